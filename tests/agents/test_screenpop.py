"""Screen pop through the ACD with a real SQLite store: one ticket per caller, a pop per offer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from acd_fakes import MakeHarness, seat

from agents.tickets import ScreenPopper
from ivr.bus import Topics
from ivr.store import SqliteStore


async def test_reoffer_keeps_one_ticket_and_pops_each_seat(make: MakeHarness, tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "pop.db")
    try:
        h = make([seat("a"), seat("b")], max_no_answer=3)
        h.acd._pop = ScreenPopper(store, Topics("hotline"), now=h.clock.now)
        await h.start("a", "b")  # a idle longest: offered first
        h.line.script = {"a": ["no_answer"]}
        h.call("1", priority=2)
        for _ in range(400):  # real SQLite I/O between virtual seconds: give it real time too
            await asyncio.sleep(0.01)
            await h.advance(1)
            if len(h.line.rings) == 2:
                break
        assert h.line.seats_rung() == ["a", "b"]
        await h.advance(1)
        offer = h.line.offers[-1]
        assert offer.ticket_id
        await store.flush()
        ticket = await store.tickets.get(offer.ticket_id)
        assert ticket is not None and (ticket.operator, ticket.urgency, ticket.caller) == (
            "b",
            "urgent",
            "1381",
        )
        pops = await store.outbox_pending()
        assert [p.topic for p in pops] == ["hotline/v1/seat/a/pop", "hotline/v1/seat/b/pop"]
        bodies = [json.loads(p.payload) for p in pops]
        assert {b["ticket"]["id"] for b in bodies} == {ticket.id}
        assert [b["call"]["attempt"] for b in bodies] == [1, 2]
        assert [c.actor for c in await store.tickets.history(ticket.id)] == ["ivr", "acd"]
    finally:
        await store.close()
