"""A node that dies (its lease runs out): its waiting callers become callback tickets exactly
once, its seats come back, nothing is offered twice."""

from __future__ import annotations

import asyncio
from collections import Counter

from acd_fakes import seat
from shared_nodes import MakeCentre, until

from agents.shared.rows import node_channel
from ivr.records import QueueEventKind as K
from ivr.store import open_store


async def test_a_dead_nodes_callers_become_callback_tickets_once_and_its_seats_come_back(
    centre: MakeCentre, pg_url: str
) -> None:
    store = await open_store(pg_url)
    try:
        c = await centre([seat("s1"), seat("s2"), seat("s3")], wrapup_seconds=30)
        a = await c.node("a", store.tickets)
        b = await c.node("b")
        survivor = await c.node("c", store.tickets)
        b.line.script = {"s1": ["manual"]}
        await a.acd.seat_command("s1", "login")
        b.call("b-ringing")
        await until(lambda: "s1" in b.line.pending, what="s1 rings for b's caller")
        await a.acd.seat_command("s2", "login")
        b.call("b-talking")
        await until(lambda: K.CONNECT in b.kinds("b-talking"), what="s2 talks with b's caller")
        b.call("b-waiting")
        b.call("b-callback")
        await b.joined("b-waiting", "b-callback")
        assert b.acd.request_callback("b-callback")
        await until(lambda: K.CALLBACK in b.kinds("b-callback"))
        a.call("a-waiting")
        await a.joined("a-waiting")

        await b.acd.stop(release=False)  # as SIGKILL: rows stay, the lease is not renewed
        await c.clock.advance(10)
        assert await a.acd.sweep() == []  # the lease (15 s) has not run out yet
        await c.clock.advance(6)
        await asyncio.gather(a.acd.sweep(), survivor.acd.sweep())  # racing sweepers
        lost = [g.context.call_id for g in a.acd.lost + survivor.acd.lost]  # (their lease loops too)
        assert sorted(lost) == ["b-callback", "b-ringing", "b-talking", "b-waiting"]
        assert await a.acd.sweep() == [] and await survivor.acd.sweep() == []

        events = c.queue_events()
        ends = Counter(e.call_id for e in events if e.kind in (K.ABANDON, K.COMPLETECALLER))
        assert {k: v for k, v in ends.items() if k.startswith("b-")} == dict.fromkeys(lost, 1)
        tickets = {
            e.call_id: e.data["callback_ticket"]
            for e in events
            if e.kind is K.ABANDON and "lost_node" in e.data
        }
        assert sorted(tickets) == ["b-callback", "b-ringing", "b-waiting"]
        for call_id, ticket_id in tickets.items():
            ticket = await store.tickets.get(ticket_id)
            assert ticket is not None and ticket.status == "open" and ticket.caller == f"138{call_id}"
            assert ticket.description.startswith("回拨")
            assert ticket.context["path"] == ["main:start", "main:operator"]
            assert ticket.context["transcript"][1] == f"caller: {call_id} 路灯坏了"
            assert ticket.context["callback"]["node"] == "b"
        for call_id in tickets:
            mine = await store.tickets.by_caller(f"138{call_id}", 10)
            assert len([t for t in mine if t.status == "open"]) == 1

        # s1 was ringing for b's caller: ready again, and it takes a's waiting caller
        await until(lambda: K.CONNECT in a.kinds("a-waiting"), what="a's caller served by a freed seat")
        assert a.line.rings[-1] == ("s1", "a-waiting")
        # s2 was talking with b's caller: wrap-up, ended by a sweep once overdue (b's timer died)
        assert await c.seat_state("s2") == "wrap_up"
        await c.clock.advance(33)
        await a.acd.sweep()
        assert await c.seat_state("s2") == "ready"
        c.check_events()
    finally:
        await store.close()


async def test_an_offer_no_node_rang_is_taken_back_and_the_seat_does_not_stay_ringing(
    centre: MakeCentre,
) -> None:
    c = await centre([seat("s1")], ring_timeout=10)
    c.lease_seconds = 1e9  # this test is about offers, not leases
    a, b = await c.node("a"), await c.node("b")
    channel = node_channel("b")
    assert b.acd._listener is not None
    await b.acd._listener.remove_listener(channel, b.acd._on_node)  # b will not hear its offer
    b.call("b1")
    await b.joined("b1")
    await a.acd.seat_command("s1", "login")  # a decides: s1 for b's caller, NOTIFY lost
    await until(lambda: any(e.kind is K.OFFER for e in a.log.queue), what="a offered b1")
    # the operator asks for a break meanwhile: it applies when the offer ends (no re-offer yet)
    await a.acd.seat_command("s1", "not_ready", "break")
    await c.clock.advance(24)
    await a.acd.sweep()
    assert await c.seat_state("s1") == "ringing"  # within the ringing node's own guard + grace
    await c.clock.advance(2)
    await a.acd.sweep()
    assert a.kinds("b1")[-1] is K.RINGNOANSWER
    assert await c.seat_state("s1") == "not_ready"  # not stuck ringing
    assert [e.call_id for e in await a.acd.waiting()] == ["b1"]
    await b.acd._listener.add_listener(channel, b.acd._on_node)
    await a.acd.seat_command("s1", "ready")  # the next round offers b1 again, and b hears it
    await until(lambda: K.CONNECT in b.kinds("b1"), what="b1 connected")
    c.check_events()


async def test_a_node_listens_again_after_losing_its_listening_connection(centre: MakeCentre) -> None:
    c = await centre([seat("s1")])
    a, b = await c.node("a"), await c.node("b")
    assert b.acd._listener is not None
    pid = b.acd._listener.get_server_pid()
    await a.acd.pool.execute("SELECT pg_terminate_backend($1)", pid)
    await until(
        lambda: b.acd._listener is not None and b.acd._listener.get_server_pid() != pid, what="relisten"
    )
    b.call("b1")
    await b.joined("b1")
    await a.acd.seat_command("s1", "login")
    await until(lambda: K.CONNECT in b.kinds("b1"), what="b hears the offer on its new connection")
