"""Screen pop: at offer time the ticket draft is written and the pop for the seat's console is
queued in the same SQLite transaction, so the console shows the ticket when the phone rings
and neither can exist without the other. Payload: docs/mqtt.md ("screen_pop", version 1)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agents.lines import QueueEntry
from ivr.bus import Topics, envelope
from ivr.config import SeatSettings
from ivr.store import URGENCIES, Store, Ticket, outbox_statement

# QueueRequest.context keys the flow fills and the pop shows
CONTEXT_KEYS = ("path", "choices", "transcript", "urgency", "category", "address", "description", "flow")


def urgency_of(entry: QueueEntry) -> str:
    wanted = str(entry.request.context.get("urgency", ""))
    if wanted in URGENCIES:
        return wanted
    return "urgent" if entry.priority > 0 else "normal"


def history_item(t: Ticket) -> dict[str, Any]:
    return {
        "id": t.id,
        "created_at": t.created_at,
        "status": t.status,
        "category": list(t.category),
        "description": t.description,
        "unit": t.unit,
    }


def pop_body(
    ticket: Ticket, entry: QueueEntry, seat: SeatSettings, waited: float, history: Sequence[Ticket]
) -> dict[str, Any]:
    ctx: Mapping[str, Any] = entry.request.context
    return {
        "seat_id": seat.id,
        "ticket": ticket.as_dict(),
        "call": {
            "call_id": entry.call_id,
            "caller": entry.caller,
            "queue": entry.queue,
            "priority": entry.priority,
            "waited": round(waited, 1),
            "attempt": entry.attempts,
            "callback": entry.callback,
        },
        "urgency": ticket.urgency,
        "ivr": {
            "flow": ctx.get("flow", ""),
            "path": list(ctx.get("path", [])),
            "choices": dict(ctx.get("choices", {})),
            "transcript": list(ctx.get("transcript", [])),
        },
        "history": [history_item(t) for t in history],
    }


class ScreenPopper:
    """The ACD's ScreenPop: one ticket per queued call, re-pointed if another seat takes it."""

    def __init__(
        self, store: Store, topics: Topics, *, history: int = 5, now: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._topics = topics
        self._history = history
        self._now = now

    async def offer(self, entry: QueueEntry, seat: SeatSettings, waited: float) -> str | None:
        history = await self._store.tickets.by_caller(
            entry.caller, self._history, exclude=entry.ticket_id or ""
        )

        def pop(t: Ticket) -> list[tuple[str, Sequence[Any]]]:
            payload = envelope("screen_pop", pop_body(t, entry, seat, waited, history), self._now())
            return [outbox_statement(self._topics.seat_pop(seat.id), payload, 1, False, self._now())]

        if entry.ticket_id is None:
            ctx = entry.request.context
            category = [str(c) for c in ctx.get("category", [])][:3]
            category += [""] * (3 - len(category))
            ticket = await self._store.tickets.create(
                entry.caller,
                call_id=entry.call_id,
                operator=seat.id,
                urgency=urgency_of(entry),
                category1=category[0],
                category2=category[1],
                category3=category[2],
                address=str(ctx.get("address", "")),
                description=str(ctx.get("description", "")),
                context={k: ctx[k] for k in ("flow", "path", "choices", "transcript") if k in ctx},
                also=pop,
            )
            return ticket.id
        old = await self._store.tickets.get(entry.ticket_id)
        if old is not None and old.operator == seat.id:
            # same seat again: no field changes, so queue the pop by itself
            await self._store.write(pop(old))
            return old.id
        ticket = await self._store.tickets.update(
            entry.ticket_id, {"operator": seat.id}, actor="acd", also=pop
        )
        return ticket.id
