"""Property: under any order of caller, seat and ring events, no caller is lost or served
twice and no seat ever has two callers."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from acd_fakes import Harness, seat
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from agents.lines import EntryState
from agents.seat import SeatError
from ivr.config import QueueSettings
from ivr.records import TERMINAL, SeatState
from ivr.records import QueueEventKind as K

SEATS = ["s0", "s1", "s2"]
CALLS = [f"c{i}" for i in range(8)]
ACTIONS = ["login", "login", "login", "logout", "ready", "ready", "not_ready", "end_wrapup"]
OUTCOMES = ["answered", "no_answer", "busy", "failed", "caller_gone"]

call = st.tuples(st.just("call"), st.sampled_from(CALLS), st.integers(0, 2), st.sampled_from(["q1", "q2"]))
ring = st.tuples(st.just("ring"), st.sampled_from(SEATS), st.sampled_from(OUTCOMES))
op = st.one_of(
    call,
    call,
    st.tuples(st.just("seat"), st.sampled_from(SEATS), st.sampled_from(ACTIONS)),
    ring,
    ring,
    ring,
    st.tuples(st.just("advance"), st.sampled_from([0.0, 0.5, 3.0, 16.0, 40.0])),
    st.tuples(st.just("hangup"), st.sampled_from(CALLS)),
    st.tuples(st.just("end"), st.sampled_from(CALLS), st.sampled_from(["caller", "operator"])),
    st.tuples(st.just("callback"), st.sampled_from(CALLS)),
)


def check_invariants(h: Harness) -> None:
    acd = h.acd
    holders: Counter[str] = Counter()
    for e in acd._entries.values():
        if e.state in (EntryState.RINGING, EntryState.CONNECTED):
            assert e.seat_id is not None
            holders[e.seat_id] += 1
            s = acd.seats[e.seat_id]
            expected = SeatState.RINGING if e.state is EntryState.RINGING else SeatState.TALKING
            assert s.state is expected and s.call_id == e.call_id
        assert (e in acd._waiting) == (e.state is EntryState.WAITING)
    assert all(n == 1 for n in holders.values()), holders
    for s in acd.seats.values():
        if s.state in (SeatState.RINGING, SeatState.TALKING):
            assert holders[s.id] == 1, f"seat {s.id} {s.state} without its caller"
    connects = Counter(e.call_id for e in h.log.queue if e.kind is K.CONNECT)
    assert all(n == 1 for n in connects.values()), connects


async def run(ops: list[tuple[Any, ...]]) -> None:
    queues = [
        QueueSettings(
            name="q1", wrapup_seconds=5, ring_timeout=10, max_wait=200, max_no_answer=2, max_length=6
        ),
        QueueSettings(
            name="q2", strategy="round_robin", wrapup_seconds=0, ring_timeout=10, weight=1, max_wait=0
        ),
    ]
    h = Harness([seat("s0", ("q1", "q2")), seat("s1", ("q1",)), seat("s2", ("q2",))], queues)
    h.line.script = {s: ["manual"] * 1000 for s in SEATS}
    await h.acd.start()
    try:
        for o in ops:
            kind = o[0]
            if kind == "call" and o[1] not in h.tasks:
                h.call(o[1], queue=o[3], priority=o[2])
            elif kind == "seat":
                try:
                    h.acd.seat_command(o[1], o[2], "break")
                except SeatError:
                    pass
            elif kind == "ring" and o[1] in h.line.pending:
                h.line.resolve(o[1], o[2])
            elif kind == "advance":
                await h.advance(o[1])
            elif kind == "hangup" and o[1] in h.tasks:
                h.tasks[o[1]].cancel()
            elif kind == "end":
                h.acd.call_ended(o[1], o[2])
            elif kind == "callback":
                h.acd.request_callback(o[1])
            await h.clock.settle()
            check_invariants(h)
        # drain: everybody works until every caller has left the queue
        for _ in range(300):
            if not h.acd._entries:
                break
            for sid in SEATS:
                try:
                    if h.state(sid) == "logged_out":
                        h.acd.seat_command(sid, "login")
                    elif h.state(sid) == "not_ready":
                        h.acd.seat_command(sid, "ready")
                except SeatError:
                    pass
                if sid in h.line.pending:
                    h.line.resolve(sid, "answered")
            for call_id in list(h.acd._entries):
                h.acd.call_ended(call_id, "operator")
            await h.advance(7.0)
            check_invariants(h)
        assert not h.acd._entries, "callers left in the queue while seats were free"
        entered = {e.call_id for e in h.log.queue if e.kind is K.ENTERQUEUE}
        terminal = Counter(e.call_id for e in h.log.queue if e.kind in TERMINAL)
        assert {c: terminal[c] for c in entered} == dict.fromkeys(entered, 1)
        await h.clock.settle()
        assert all(t.done() for t in h.tasks.values())
        kinds = Counter(e.kind for e in h.log.queue)
        event(f"connects>={min(kinds[K.CONNECT], 4)}")
        event(f"no-answers>={min(kinds[K.RINGNOANSWER], 2)}")
        event(f"abandons>={min(kinds[K.ABANDON], 1)}")
    finally:
        await h.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=20, max_size=80))
def test_no_caller_lost_or_served_twice_and_no_seat_double_booked(ops: list[tuple[Any, ...]]) -> None:
    asyncio.run(run(ops))
