"""The operators' consoles over MQTT: seat commands into the ACD, ticket edits into the
store, and every seat state change back out as a retained message."""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, cast

from agents.acd import SeatAction
from agents.seat import SeatError
from agents.shared import AnyAcd, SharedAcd
from ivr.bus import Bus, envelope
from ivr.records import QueueEvent, SeatEvent, Ticket
from ivr.store import Outgoing, Store, StoreError

log = logging.getLogger(__name__)

ACTIONS = ("login", "logout", "ready", "not_ready", "end_wrapup")


class Console:
    def __init__(self, acd: AnyAcd, store: Store, bus: Bus) -> None:
        self._acd = acd
        self._store = store
        self._bus = bus
        self._tasks: set[asyncio.Task[None]] = set()

    def attach(self) -> None:
        """Call before `bus.start()` (subscriptions) and with the ACD's EventLog as events."""
        t = self._bus.topics
        # nodes of a centre share one queue and store: one of them takes each request (an MQTT
        # shared subscription), as two would apply it twice
        share = "$share/hotline-nodes/" if isinstance(self._acd, SharedAcd) else ""
        self._bus.subscribe(share + t.seat_command(), self._on_seat_command)
        self._bus.subscribe(share + t.ticket_update(), self._on_ticket_update)
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
        ticket_id = self._bus.topics.segment(topic, 1)
        await self.update_ticket(ticket_id, dict(data.get("fields", {})), f"seat:{data.get('seat_id', '')}")

    async def update_ticket(self, ticket_id: str, fields: dict[str, Any], actor: str) -> Ticket | None:
        """The MQTT and HTTP paths both land here: change, log, and announce the new ticket."""

        def announce(t: Ticket) -> list[Outgoing]:
            payload = envelope("ticket", {"ticket": t.as_dict(), "actor": actor})
            return [Outgoing(self._bus.topics.ticket(t.id), payload, qos=1, retain=True)]

        try:
            return await self._store.tickets.update(ticket_id, fields, actor=actor, also=announce)
        except StoreError as exc:
            log.warning("ticket update %s by %s refused: %s", ticket_id, actor, exc)
            body = {"ticket_id": ticket_id, "error": str(exc)}
            await self._bus.publish(self._bus.topics.ticket(ticket_id) + "/error", "ticket_error", body)
            return None
