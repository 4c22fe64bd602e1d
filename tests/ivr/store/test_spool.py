"""The shared store through a database outage: a PostgreSQL of the test's own is stopped while a
node writes, then started again on the same port; every write arrives, in the order written."""

from __future__ import annotations

import asyncio
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from ivr.ports import free_port
from ivr.records import QueueEvent, QueueEventKind
from ivr.store import open_store
from ivr.store.pgserver import PgServer
from ivr.store.postgres import PgStore
from ivr.store.spool import dump_unit, load_unit


@pytest.fixture
def own_pg() -> Iterator[PgServer]:
    # under /tmp, not pytest's folder: when tests run as root the server's account must reach it
    directory = Path(tempfile.mkdtemp(prefix="hotline-pg-outage-"))
    server = PgServer(directory, settings={"fsync": "off"}, port=free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def test_a_unit_survives_the_file_unchanged() -> None:
    unit = [("INSERT INTO outbox VALUES ($1, $2, $3)", ("a/b", b"\x00\xff{}", None)), ("NOTIFY x", ())]
    assert load_unit(dump_unit(unit)) == unit


async def _ids(url: str, sql: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [r[0] for r in await conn.fetch(sql)]
    finally:
        await conn.close()


async def test_writes_during_an_outage_are_spooled_privately_and_replayed_in_order(
    own_pg: PgServer, tmp_path: Path
) -> None:
    url = own_pg.url()
    spool = tmp_path / "node.spool"
    store = await open_store(url, spool=spool)
    assert isinstance(store, PgStore) and store.spool is not None
    try:
        for i in range(5):
            store.queue_event(QueueEvent(float(i), f"c{i}", "general", QueueEventKind.ENTERQUEUE))
        await store.flush()
        await asyncio.to_thread(own_pg.stop)
        for i in range(5, 25):  # fire and forget, as the queue writes them
            store.queue_event(QueueEvent(float(i), f"c{i}", "general", QueueEventKind.ENTERQUEUE))
        await store.outbox_put("hotline/x", b"during \xe5")  # awaited writes return too
        await store.flush()
        assert store.spool.pending > 0
        assert stat.S_IMODE(spool.stat().st_mode) == 0o600
        await asyncio.to_thread(own_pg.start)
        store.queue_event(QueueEvent(25.0, "c25", "general", QueueEventKind.ENTERQUEUE))  # behind the spool
        for _ in range(300):  # the replay retries every second
            if store.spool.pending == 0:
                break
            await asyncio.sleep(0.1)
        await store.flush()
        assert store.spool.pending == 0 and not spool.exists()
        called = await _ids(url, "SELECT call_id FROM queue_events ORDER BY id")
        assert called == [f"c{i}" for i in range(26)]
        assert [bytes(p) for p in await _ids(url, "SELECT payload FROM outbox")] == [b"during \xe5"]
    finally:
        await store.close()


async def test_a_node_stopped_during_the_outage_replays_at_its_next_start(
    own_pg: PgServer, tmp_path: Path
) -> None:
    url = own_pg.url()
    spool = tmp_path / "node.spool"
    store = await open_store(url, spool=spool)
    await asyncio.to_thread(own_pg.stop)
    for i in range(10):
        store.queue_event(QueueEvent(float(i), f"c{i}", "general", QueueEventKind.ENTERQUEUE))
    await store.close()  # the database is still away: the units stay in the file
    assert len(spool.read_text().splitlines()) >= 1
    await asyncio.to_thread(own_pg.start)
    store = await open_store(url, spool=spool)
    try:
        assert isinstance(store, PgStore) and store.spool is not None
        for _ in range(100):
            if store.spool.pending == 0:
                break
            await asyncio.sleep(0.1)
        assert await _ids(url, "SELECT call_id FROM queue_events ORDER BY id") == [f"c{i}" for i in range(10)]
    finally:
        await store.close()
