"""The shared queue through a PostgreSQL outage: a server of the test's own is stopped and
started again on the same port. A call that ends meanwhile is ended in the rows once they are
back; a caller who asks for an operator meanwhile gets the flow's error path at once (not a dead
call); once the database is back, the node listens again and serves the next caller without
being restarted."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from acd_fakes import seat
from shared_nodes import Centre, Node, until

from ivr.ports import free_port
from ivr.records import QueueEventKind as K
from ivr.store.pgserver import PgServer


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


async def _call_until_settled(node: Node, call_id: str) -> None:
    node.call(call_id)
    await until(lambda: node.tasks[call_id].done() or K.CONNECT in node.kinds(call_id), 30)


async def test_a_caller_during_the_outage_gets_an_error_and_the_queue_resumes_by_itself(
    own_pg: PgServer,
) -> None:
    c = Centre(own_pg.url(), [seat("s1")])
    a = await c.node("a")
    try:
        await a.acd.seat_command("s1", "login")
        a.call("talking")
        await until(lambda: K.CONNECT in a.kinds("talking"), 10)
        await asyncio.to_thread(own_pg.stop)
        assert a.acd.call_ended("talking", "operator")  # the bridge ends while the rows are away
        a.call("during")
        assert (await asyncio.wait_for(a.result("during"), 30)).outcome == "error"
        await asyncio.to_thread(own_pg.start)
        # the call's end reaches the rows once they are back, and frees the seat
        assert (await asyncio.wait_for(a.result("talking"), 30)).outcome == "operator_hangup"
        name = ""
        for attempt in range(60):  # the listening connection comes back with backoff (<= 5 s)
            name = f"after{attempt}"
            await _call_until_settled(a, name)
            if K.CONNECT in a.kinds(name):
                break
            await asyncio.sleep(0.5)
        assert a.acd.call_ended(name, "caller")
        assert (await a.result(name)).outcome == "completed"
        assert a.line.rings[-1] == ("s1", name)
        assert K.ENTERQUEUE not in a.kinds("during")
    finally:
        await c.close()
