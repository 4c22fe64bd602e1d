"""One `ivr serve` node of a centre through a 10 s PostgreSQL outage, over real SIP: a PostgreSQL
of the test's own is stopped while a caller talks with an operator and started again on its
port. The call in progress goes on; a new caller still hears the menu and, asking for an
operator, takes the flow's error path; nothing written meanwhile is lost (the call records
reach the database from the node's spool); once the database is back the queue serves the next
caller with no restart."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sip_peers import call, free_port, seat_phone, serve
from test_sip_shared_queue import node_config, seat_ready

from ivr.broker import LocalBroker
from ivr.store.pgserver import PgServer

pytestmark = pytest.mark.sip

OUTAGE = 10.0
CALLERS = ("13911110001", "13911110002", "13911110003")  # talking, during the outage, after


@pytest.fixture
def own_pg() -> Iterator[PgServer]:
    directory = Path(tempfile.mkdtemp(prefix="hotline-pg-outage-"))  # reachable by its account
    server = PgServer(directory, settings={"fsync": "off"}, port=free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


async def test_a_node_rides_out_a_database_outage(tmp_path: Path, own_pg: PgServer) -> None:
    url = own_pg.url()
    seat_port = free_port()
    async with LocalBroker(lines=("hotline-a",)) as broker:
        cfg = node_config(tmp_path / "a", "a", seat_port, broker, url)
        seat = seat_phone("1001", seat_port, talk=12, max_calls=2, duration=150)
        try:
            with serve(cfg) as node:
                await asyncio.wait_for(seat_ready(node.console), 20)
                talking = asyncio.ensure_future(
                    asyncio.to_thread(call, node.uri, "wait 2; dtmf 1; wait 25", caller=CALLERS[0])
                )
                await asyncio.to_thread(node.wait_log, "connected to seat 1001", timeout=20)
                await asyncio.to_thread(own_pg.stop)
                stopped = time.monotonic()
                during = await asyncio.to_thread(
                    call, node.uri, "wait 2; dtmf 1; wait 8", caller="13911110002"
                )
                await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - stopped)))
                await asyncio.to_thread(own_pg.start)
                first = await talking
                after = await asyncio.to_thread(
                    call, node.uri, "wait 2; dtmf 1; wait 16", caller="13911110003"
                )
                log = node.log_text()
        finally:
            seat.terminate()
            out, _ = seat.communicate(timeout=20)
    # the call in progress went on through the outage (the operator talked 12 s; the caller then
    # heard the survey until their own script ended)
    assert first["answered"] and first["seconds"] >= 12, first
    # the caller during the outage heard the menu; the queue could not take them
    assert during["answered"] and during["seconds"] >= 4, during
    assert "the shared queue is unreachable" in log
    # back: the next caller is queued and bridged to the operator, no restart
    assert after["answered"] and log.count("connected to seat 1001") == 2, log[-3000:]
    assert "answered 2 call(s)" in out, out
    conn = await asyncpg.connect(url)
    try:
        for _ in range(100):  # the spool replays within a second or two of the database's return
            cdrs = {r["caller"]: r for r in await conn.fetch("SELECT caller, outcome FROM calls")}
            if len(cdrs) == 3:
                break
            await asyncio.sleep(0.2)
        kinds = [r["kind"] for r in await conn.fetch("SELECT kind FROM queue_events ORDER BY id")]
    finally:
        await conn.close()
    assert set(cdrs) == set(CALLERS), cdrs  # nothing lost
    assert kinds.count("CONNECT") == 2, kinds
    assert not list((tmp_path / "a").rglob("*.spool")), "the spool was not emptied"
