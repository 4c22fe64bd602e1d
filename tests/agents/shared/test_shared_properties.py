"""Property: two nodes sharing one queue, under any order of callers arriving on either node,
seat commands from either node, ring outcomes, hang-ups and callbacks, never offer a caller to
two seats at once nor give a seat two callers, and every caller leaves the queue exactly once.

The invariants are checked on a snapshot of the shared rows after every step (every change is
one transaction, so any snapshot must be consistent) and on the events of both nodes."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import asyncpg
from acd_fakes import seat
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from shared_nodes import Centre, Node, until

from agents.seat import SeatError
from ivr.config import QueueSettings
from ivr.records import TERMINAL
from ivr.records import QueueEventKind as K

SEATS = ["s0", "s1", "s2"]
CALLS = [f"c{i}" for i in range(6)]
ACTIONS = ["login", "login", "logout", "ready", "not_ready", "end_wrapup"]
OUTCOMES = ["answered", "answered", "no_answer", "busy", "caller_gone"]

op = st.one_of(
    st.tuples(st.just("call"), st.integers(0, 1), st.sampled_from(CALLS), st.integers(0, 2)),
    st.tuples(st.just("seat"), st.integers(0, 1), st.sampled_from(SEATS), st.sampled_from(ACTIONS)),
    st.tuples(st.just("ring"), st.sampled_from(SEATS), st.sampled_from(OUTCOMES)),
    st.tuples(st.just("ring"), st.sampled_from(SEATS), st.sampled_from(OUTCOMES)),
    st.tuples(st.just("advance"), st.sampled_from([0.5, 3.0, 16.0])),
    st.tuples(st.just("hangup"), st.sampled_from(CALLS)),
    st.tuples(st.just("end"), st.sampled_from(CALLS), st.sampled_from(["caller", "operator"])),
    st.tuples(st.just("callback"), st.sampled_from(CALLS)),
)


async def check_rows(conn: asyncpg.Connection, centre: Centre) -> None:
    async with conn.transaction(isolation="repeatable_read", readonly=True):  # one snapshot
        await _check_rows(conn, centre)


async def _check_rows(conn: asyncpg.Connection, centre: Centre) -> None:
    rows = await conn.fetch(
        "SELECT e.call_id, e.state, e.seat_id, s.state, s.call_id FROM queue_entries e"
        " LEFT JOIN queue_seats s ON s.seat_id = e.seat_id WHERE e.state IN ('ringing', 'connected')"
    )
    holders = Counter(r[2] for r in rows)
    assert all(n == 1 for n in holders.values()), f"a seat with two callers: {holders}"
    for call_id, state, _seat_id, seat_state, seat_call in rows:
        expected = "ringing" if state == "ringing" else "talking"
        assert (seat_state, seat_call) == (expected, call_id), (call_id, state, seat_state, seat_call)
    busy = await conn.fetch("SELECT seat_id, call_id FROM queue_seats WHERE state IN ('ringing', 'talking')")
    for seat_id, call_id in busy:
        assert holders[seat_id] == 1, f"seat {seat_id} busy with {call_id} without its caller"
    ringing: Counter[str] = Counter()
    for n in centre.nodes:
        last = {o.seat_id: o.call_id for o in n.line.offers}
        ringing.update(last[s] for s in n.line.pending)
    assert all(v == 1 for v in ringing.values()), f"a caller rung at two seats: {ringing}"


def owner(centre: Centre, call_id: str) -> Node | None:
    return next((n for n in centre.nodes if call_id in n.tasks), None)


async def run(url: str, ops: list[tuple[Any, ...]]) -> None:
    conn = await asyncpg.connect(url)
    await conn.execute("SELECT 1")
    queue = QueueSettings(name="general", wrapup_seconds=5, ring_timeout=10, max_wait=0, announce_every=0)
    centre = Centre(url, [seat(s) for s in SEATS], [queue])
    centre.lease_seconds = 1e9
    try:
        if await conn.fetchval("SELECT to_regclass('queue_entries') IS NOT NULL"):
            await conn.execute("TRUNCATE queue_entries, queue_seats, queue_nodes, queue_rr")
        nodes = [await centre.node("a"), await centre.node("b")]
        for n in nodes:
            n.line.script = {s: ["manual"] * 1000 for s in SEATS}
        for o in ops:
            kind = o[0]
            if kind == "call" and owner(centre, o[2]) is None:
                nodes[o[1]].call(o[2], priority=o[3])
            elif kind == "seat":
                try:
                    await nodes[o[1]].acd.seat_command(o[2], o[3], "break")
                except SeatError:
                    pass
            elif kind == "ring":
                for n in nodes:
                    if o[1] in n.line.pending:
                        n.line.resolve(o[1], o[2])
            elif kind == "advance":
                await centre.clock.advance(o[1])
            elif kind in ("hangup", "end", "callback") and (n := owner(centre, o[1])) is not None:
                if kind == "hangup":
                    n.tasks[o[1]].cancel()
                elif kind == "end":
                    n.acd.call_ended(o[1], o[2])
                else:
                    n.acd.request_callback(o[1])
            await asyncio.sleep(0.01)
            await check_rows(conn, centre)
        # drain: everybody works until every caller has left the queue
        for _ in range(200):
            if not await conn.fetchval("SELECT count(*) FROM queue_entries"):
                break
            for s in SEATS:
                try:
                    await nodes[0].acd.seat_command(s, "login")
                except SeatError:
                    try:
                        await nodes[1].acd.seat_command(s, "ready")
                    except SeatError:
                        pass
                for n in nodes:
                    if s in n.line.pending:
                        n.line.resolve(s, "answered")
            for n in nodes:
                for call_id in list(n.acd._entries):
                    n.acd.call_ended(call_id, "operator")
            await centre.clock.advance(6.0)
            await asyncio.sleep(0.02)
            await check_rows(conn, centre)
        assert not await conn.fetchval("SELECT count(*) FROM queue_entries"), "callers left with seats free"
        for n in nodes:
            waits = {c: n.acd._entries.get(c) for c, t in n.tasks.items() if not t.done()}
            pending = {c: (e.state, e.seat_id, e.attempts) if e else None for c, e in waits.items()}
            await until(lambda n=n: all(t.done() for t in n.tasks.values()), what=f"waits ended: {pending}")
        events = centre.queue_events()
        entered = {e.call_id for e in events if e.kind is K.ENTERQUEUE}
        terminal = Counter(e.call_id for e in events if e.kind in TERMINAL)
        assert {c: terminal[c] for c in entered} == dict.fromkeys(entered, 1)
        assert all(v == 1 for v in Counter(e.call_id for e in events if e.kind is K.CONNECT).values())
        event(f"connects>={min(sum(1 for e in events if e.kind is K.CONNECT), 3)}")
    finally:
        await centre.close()
        await conn.close()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(op, min_size=10, max_size=40))
def test_two_nodes_never_double_book_a_caller_or_a_seat(pg_url: str, ops: list[tuple[Any, ...]]) -> None:
    asyncio.run(run(pg_url, ops))
