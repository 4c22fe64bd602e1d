"""Calls rows as the line writes them while a call lasts, on both stores: open rows by line
(what a restart after a crash closes) and one call's queue events."""

from __future__ import annotations

from dataclasses import replace

from ivr.records import CallRecord, QueueEvent, QueueEventKind, SeatEvent, SeatState
from ivr.store import Store


async def test_open_calls_are_those_of_the_line_not_ended(store: Store) -> None:
    row = CallRecord("c1", "13800138000", 100.0, answered_at=100.0, node="line-a")
    await store.save_call(row)
    await store.save_call(CallRecord("c2", "13900139000", 101.0, node="line-b"))  # another line's
    await store.save_call(
        CallRecord("c3", "13700137000", 102.0, ended_at=110.0, outcome="hangup", node="line-a")
    )
    taken = replace(row, queue="general", seat_id="1001", ticket_id="T1", recording="/r/c1.wav")
    await store.save_call(taken)
    await store.flush()
    assert await store.open_calls("line-a") == [taken]
    assert [c.call_id for c in await store.open_calls("line-b")] == ["c2"]
    await store.save_call(replace(taken, ended_at=120.0, outcome="crashed"))
    await store.flush()
    assert await store.open_calls("line-a") == []
    assert (await store.get_call("c1")) == replace(taken, ended_at=120.0, outcome="crashed")


async def test_queue_events_of_one_call_oldest_first(store: Store) -> None:
    K = QueueEventKind
    for at, call, kind in ((1.0, "c1", K.ENTERQUEUE), (2.0, "c2", K.ENTERQUEUE), (3.0, "c1", K.CONNECT)):
        store.queue_event(QueueEvent(at, call, "general", kind, "1001" if kind is K.CONNECT else ""))
    store.queue_event(QueueEvent(4.0, "c1", "general", K.CRASHED, "1001", {"wait": 2.0, "talk": 1.0}))
    await store.flush()
    events = await store.queue_events_of("c1")
    assert [e.kind for e in events] == [K.ENTERQUEUE, K.CONNECT, K.CRASHED]
    assert events[-1].data == {"wait": 2.0, "talk": 1.0}
    assert await store.queue_events_of("nobody") == []


async def test_last_seat_events_are_each_seats_latest(store: Store) -> None:
    S = SeatState
    store.seat_event(SeatEvent(1.0, "1001", S.READY, S.LOGGED_OUT, 0.0))
    store.seat_event(SeatEvent(2.0, "1002", S.READY, S.LOGGED_OUT, 0.0))
    store.seat_event(SeatEvent(3.0, "1001", S.TALKING, S.READY, 2.0, call_id="c1"))
    await store.flush()
    latest = {e.seat_id: (e.state, e.call_id) for e in await store.last_seat_events()}
    assert latest == {"1001": (S.TALKING, "c1"), "1002": (S.READY, "")}
