"""The calls row as a call goes (ivr.cdr), on a real SQLite store: open when answered, naming
seat, ticket and recording once an operator takes the call, and keeping them when the flow that
ends the call knows nothing of the operator (a caller who hung up on them)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.cdr import CallRows
from ivr.records import CallContext, Offer
from ivr.store import SqliteStore, Store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await SqliteStore.open(tmp_path / "hotline.db")
    yield s
    await s.close()


async def test_a_row_is_open_then_names_the_operator_then_keeps_them_when_closed(store: Store) -> None:
    rows = CallRows(store, "hotline-ivr")
    rows.open("c1", "13800138000", "12345", 100.0)
    offer = Offer(CallContext("c1", "13800138000"), "general", "1001", "sip:1001@127.0.0.1", ticket_id="T1")
    rows.connected(offer, "/rec/T1.wav")
    live = None
    for _ in range(100):  # the writes run in the background, the call does not wait for them
        await asyncio.sleep(0.01)
        await store.flush()
        (live,) = await store.open_calls("hotline-ivr")
        if live.seat_id:
            break
    assert live is not None
    # both writes landed, in order, before the end
    assert (live.seat_id, live.ticket_id, live.recording, live.ended_at) == (
        "1001",
        "T1",
        "/rec/T1.wav",
        None,
    )

    await rows.close(
        "c1",
        flow="main",
        path=("main:operator",),
        outcome="caller_hangup",
        queue="",
        seat_id="",
        ticket_id="",
    )
    await store.flush()
    row = await store.get_call("c1")
    assert row is not None and row.ended_at is not None
    assert (row.outcome, row.queue, row.seat_id, row.ticket_id) == ("caller_hangup", "general", "1001", "T1")
    assert await store.open_calls("hotline-ivr") == []
    await rows.close("c1", flow="", path=(), outcome="x", queue="", seat_id="", ticket_id="")  # once only
    again = await store.get_call("c1")
    assert again is not None and again.outcome == "caller_hangup"
