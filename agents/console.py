"""The operators' consoles over MQTT: seat commands into the ACD, ticket edits into the
store, and every seat state change back out as a retained message.

Who sent a message is the seat in its topic (`seat/<id>/...`): the broker's ACL lets only that
seat's account publish there (docs/mqtt.md). A `seat_id` in a payload is ignored. A ticket
update is applied only when that seat is the ticket's operator, and only to the fields an
operator may edit."""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, cast

from agents.acd import SeatAction
from agents.seat import SeatError
from agents.shared import AnyAcd, SharedAcd
from agents.tickets.lifecycle import LifeError, TicketLife, operator_move
from ivr.bus import Bus, envelope
from ivr.records import QueueEvent, SeatEvent, Ticket
from ivr.store import Outgoing, Store, StoreError

log = logging.getLogger(__name__)

ACTIONS = ("login", "logout", "ready", "not_ready", "end_wrapup")
# what an operator may change, with the longest text accepted (the web desk checks the same)
FIELD_LIMITS = {
    "category1": 50,
    "category2": 50,
    "category3": 50,
    "address": 300,
    "description": 5000,
    "unit": 100,
    "urgency": 20,
    "status": 20,
}


class Console:
    def __init__(self, acd: AnyAcd, store: Store, bus: Bus) -> None:
        self._acd = acd
        self._store = store
        self._bus = bus
        self._tasks: set[asyncio.Task[None]] = set()
        # dispatches go through the ticket's life; the console's server gives its own (deadlines)
        self.life = TicketLife(store, bus.topics)

    def attach(self) -> None:
        """Call before `bus.start()` (subscriptions) and with the ACD's EventLog as events."""
        t = self._bus.topics
        # nodes of a centre share one queue and store: one of them takes each request (an MQTT
        # shared subscription), as two would apply it twice
        share = "$share/hotline-nodes/" if isinstance(self._acd, SharedAcd) else ""
        self._bus.subscribe(share + t.seat_command(), self._on_seat_command)
        self._bus.subscribe(share + t.seat_ticket_update(), self._on_ticket_update)
        listen = getattr(self._acd.events, "listen", None)
        if listen is not None:
            listen(self._on_event)

    def _on_event(self, event: QueueEvent | SeatEvent) -> None:
        if isinstance(event, SeatEvent):
            body = {
                "seat_id": event.seat_id,
                "state": event.state.value,
                "reason": event.reason,
                "since": event.at,
            }
            task = asyncio.get_running_loop().create_task(self._publish_state(event.seat_id, body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _publish_state(self, seat_id: str, body: dict[str, Any]) -> None:
        await self._bus.publish(self._bus.topics.seat_state(seat_id), "seat_state", body, retain=True)

    async def _on_seat_command(self, topic: str, data: dict[str, Any]) -> None:
        seat_id = self._bus.topics.segment(topic, 1)
        action = str(data.get("action", ""))
        try:
            if action not in ACTIONS:
                raise SeatError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
            done = self._acd.seat_command(seat_id, cast(SeatAction, action), str(data.get("reason", "")))
            if inspect.isawaitable(done):  # the shared queue's seats are rows
                await done
        except SeatError as exc:
            seat = self._acd.seats.get(seat_id)
            body = {"seat_id": seat_id, "error": str(exc), "request": data.get("id", "")}
            if seat is not None:
                body |= {"state": seat.state.value, "reason": seat.reason}
            await self._bus.publish(self._bus.topics.seat_state(seat_id), "seat_error", body)

    async def _on_ticket_update(self, topic: str, data: dict[str, Any]) -> None:
        seat_id, ticket_id = self._bus.topics.segment(topic, 1), self._bus.topics.segment(topic, 3)
        fields = data.get("fields")
        ticket = await self._store.tickets.get(ticket_id)
        if ticket is None or ticket.operator != seat_id:
            error = f"seat {seat_id} is not the operator of ticket {ticket_id}"
        elif not isinstance(fields, dict) or not fields:
            error = "fields must be a non-empty JSON object"
        elif unknown := sorted(set(fields) - set(FIELD_LIMITS)):
            error = f"fields an operator cannot change: {', '.join(unknown)}"
        elif bad := [k for k, v in fields.items() if not isinstance(v, str) or len(v) > FIELD_LIMITS[k]]:
            error = f"fields not text or too long: {', '.join(sorted(bad))}"
        else:
            try:
                await self.edit(ticket, dict(fields), f"seat:{seat_id}")
                return
            except LifeError as exc:
                error = exc.message
        log.warning("ticket update %s from seat %s refused: %s", ticket_id, seat_id, error)
        body = {"ticket_id": ticket_id, "error": error, "request": data.get("id", "")}
        await self._bus.publish(self._bus.topics.seat_ticket_error(seat_id, ticket_id), "ticket_error", body)

    async def edit(self, ticket: Ticket, fields: dict[str, Any], actor: str) -> Ticket:
        """An operator's change from the page, the REST API or MQTT: the status move is checked
        by the ticket's life (one rule for every channel), a dispatch is its step. Raises
        LifeError; nothing is written when the move is refused."""
        dispatch = operator_move(ticket, fields)
        changes = {k: v for k, v in fields.items() if not (dispatch and k == "status")}
        updated: Ticket | None = ticket
        if changes:
            updated = await self.update_ticket(ticket.id, changes, actor)
        if updated is None:
            raise LifeError(400, "工单更新被拒绝")
        if dispatch:
            updated = await self.life.dispatch(ticket.id, updated.unit, actor=actor)
        return updated

    async def update_ticket(self, ticket_id: str, fields: dict[str, Any], actor: str) -> Ticket | None:
        """The MQTT and HTTP paths both land here: change, log, and announce the new ticket."""

        def announce(t: Ticket) -> list[Outgoing]:
            # to the operator's seat only, not retained: a seat is a desk shared by shifts, and a
            # retained ticket would stay in the broker for whoever signs in next
            if not t.operator:
                return []
            payload = envelope("ticket", {"ticket": t.as_dict(), "actor": actor})
            return [Outgoing(self._bus.topics.seat_ticket(t.operator, t.id), payload, qos=1, retain=False)]

        try:
            return await self._store.tickets.update(ticket_id, fields, actor=actor, also=announce)
        except StoreError as exc:
            log.warning("ticket update %s by %s refused: %s", ticket_id, actor, exc)
            seat_id = actor.removeprefix("seat:")
            if actor.startswith("seat:") and seat_id:
                body = {"ticket_id": ticket_id, "error": str(exc)}
                topic = self._bus.topics.seat_ticket_error(seat_id, ticket_id)
                await self._bus.publish(topic, "ticket_error", body)
            return None
