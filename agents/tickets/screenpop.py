"""Screen pop: at offer time the ticket draft is written and the pop for the seat's console is
queued in the same store transaction, so the console shows the ticket when the phone rings
and neither can exist without the other. Payload: docs/mqtt.md ("screen_pop", version 1)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from ivr.bus import Topics, envelope
from ivr.records import Offer, Ticket, Understanding
from ivr.store import Outgoing, Store
from ivr.understanding import HotSpot, HotSpots
from ivr.understanding.hotspots import key_of


def history_item(t: Ticket) -> dict[str, Any]:
    return {
        "id": t.id,
        "created_at": t.created_at,
        "status": t.status,
        "category": list(t.category),
        "description": t.description,
        "unit": t.unit,
    }


def hot_spot_item(spot: HotSpot, ticket_id: str) -> dict[str, Any]:
    """The cluster as the operator sees it: how many callers, and the others' tickets."""
    return {
        "id": spot.id,
        "place": spot.place,
        "category": spot.category,
        "count": len(spot.calls),
        "tickets": [t for t in spot.tickets if t != ticket_id],
        "urgent": spot.urgent,
    }


def pop_body(
    ticket: Ticket, offer: Offer, history: Sequence[Ticket], hot_spot: HotSpot | None = None
) -> dict[str, Any]:
    ivr = offer.context.ivr()
    if hot_spot is not None:
        ivr["hot_spot"] = hot_spot_item(hot_spot, ticket.id)
    return {
        "seat_id": offer.seat_id,
        "ticket": ticket.as_dict(),
        "call": {
            "call_id": offer.call_id,
            "caller": offer.context.caller,
            "queue": offer.queue,
            "priority": offer.priority,
            "waited": offer.waited,
            "attempt": offer.attempt,
            "callback": offer.callback,
        },
        "urgency": ticket.urgency,
        "ivr": ivr,
        "history": [history_item(t) for t in history],
    }


class ScreenPopper:
    """The queue's ScreenPop: one ticket per queued call, re-pointed if another seat takes it;
    the call's QA recording is linked to it when the call ends. With `hotspots`, the ticket
    joins its call's cluster and the pop says how many callers reported the same problem."""

    def __init__(
        self,
        store: Store,
        topics: Topics,
        *,
        history: int = 5,
        now: Callable[[], float] = time.time,
        hotspots: HotSpots | None = None,
    ) -> None:
        self._hotspots = hotspots
        self._store = store
        self._topics = topics
        self._history = history
        self._now = now

    async def offer(self, offer: Offer) -> str:
        ctx = offer.context
        history = await self._store.tickets.by_caller(ctx.caller, self._history, exclude=offer.ticket_id)
        spot = self._hotspots.of_call(ctx.call_id) if self._hotspots is not None else None

        def pop(t: Ticket) -> list[Outgoing]:
            payload = envelope("screen_pop", pop_body(t, offer, history, spot), self._now())
            return [Outgoing(self._topics.seat_pop(offer.seat_id), payload, qos=1, retain=False)]

        if not offer.ticket_id:
            ticket = await self._store.tickets.create(
                ctx.caller,
                call_id=ctx.call_id,
                operator=offer.seat_id,
                urgency=ctx.urgency,
                category1=ctx.category[0],
                category2=ctx.category[1],
                category3=ctx.category[2],
                address=ctx.address,
                description=ctx.description,
                context=ctx.ivr(),
                also=pop,
            )
            if self._hotspots is not None:
                self._hotspots.link(ctx.call_id, ticket.id)
            return ticket.id
        old = await self._store.tickets.get(offer.ticket_id)
        if old is not None and old.operator == offer.seat_id:
            # same seat again: no field changes, so queue the pop by itself
            await self._store.outbox_put_many(pop(old))
            return old.id
        ticket = await self._store.tickets.update(
            offer.ticket_id, {"operator": offer.seat_id}, actor="acd", also=pop
        )
        return ticket.id

    async def rejoin_hot_spots(self, since: float) -> int:
        """After a restart: the tickets drafted since `since` (at most the hot-spot window ago)
        join their clusters again, from the understanding each keeps in its context, so the
        board and the next pops count the callers before the restart. Returns how many joined;
        nothing is announced (MQTT kept the retained hot spots)."""
        if self._hotspots is None:
            return 0
        spots, told = self._hotspots, self._hotspots.on_change
        spots.on_change = None
        joined = 0
        try:
            for t in await self._store.tickets.since(since):
                u = t.context.get("understanding")
                if not isinstance(u, dict) or not t.call_id:
                    continue
                place, categories = u.get("place"), u.get("categories")
                said = Understanding(  # only what the cluster key needs; old rows may lack parts
                    text=str(u.get("text", "")),
                    intent=str(u.get("intent", "")),
                    urgent=bool(u.get("urgent")),
                    categories=tuple(str(c) for c in categories) if isinstance(categories, list) else (),
                    place={str(k): str(v) for k, v in place.items()} if isinstance(place, dict) else {},
                )
                if key_of(said) is not None:
                    spots.note(t.call_id, said, t.created_at, ticket_id=t.id)
                    joined += 1
        finally:
            spots.on_change = told
        return joined

    async def link_recording(self, ticket_id: str, recording: str, seat_id: str) -> None:
        """The call's QA recording, added to the ticket's context when the call ends."""
        ticket = await self._store.tickets.get(ticket_id)
        if ticket is None or not recording:
            return
        recordings: Sequence[str] = list(ticket.context.get("recordings", []))
        if recording in recordings:  # linked before the line stopped (crash recovery links again)
            return
        context = {**ticket.context, "recordings": [*recordings, recording]}
        await self._store.tickets.update(ticket_id, {"context": context}, actor=f"seat:{seat_id}")
