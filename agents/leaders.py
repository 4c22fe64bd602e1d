"""What a team leader's action on a call leaves behind: a SUPERVISE queue event with who and
when (every action), a ticket history entry for a barge-in and a take-over (the citizen heard
the leader), and for a take-over the operator's seat freed and the ticket moved to the leader
with the screen pop on the leader's console."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable

from agents.shared import AnyAcd
from agents.tickets import ScreenPopper
from ivr.records import EventSink, Offer, QueueEvent, QueueEventKind
from ivr.store import Store, StoreError

log = logging.getLogger(__name__)

NOTES = {
    "barge": "班长 {leader} 插话（三方通话）",
    "takeover": "班长 {leader} 接管通话，工单转由 {leader} 处理",
}


class LeaderLog:
    def __init__(
        self,
        events: EventSink,
        store: Store,
        acd: AnyAcd,
        popper: ScreenPopper,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._events = events
        self._store = store
        self._acd = acd
        self._popper = popper
        self._now = now
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, action: str, offer: Offer, leader: str, by: str, recording: str = "") -> None:
        data = {"mode": action, "leader": leader, "by": by}
        self._events.queue_event(
            QueueEvent(self._now(), offer.call_id, offer.queue, QueueEventKind.SUPERVISE, offer.seat_id, data)
        )
        log.info(
            "call %s at seat %s: %s by leader %s (asked by %s)",
            offer.call_id,
            offer.seat_id,
            action,
            leader,
            by,
        )
        if action == "takeover":
            seat_left = getattr(self._acd, "seat_left", None)
            if seat_left is not None:  # the shared queue frees the seat when the call ends
                seat_left(offer.call_id)
        if offer.ticket_id and action in NOTES:
            task = asyncio.ensure_future(self._ticket(action, offer, leader, by, recording))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _ticket(self, action: str, offer: Offer, leader: str, by: str, recording: str) -> None:
        try:
            if recording:  # the operator's part of a call taken over; the leader's follows at its end
                await self._popper.link_recording(offer.ticket_id, recording, offer.seat_id)
            if action == "takeover":  # the leader's console gets the pop; the ticket is theirs
                await self._popper.offer(dataclasses.replace(offer, seat_id=leader))
            note = NOTES[action].format(leader=leader)
            await self._store.tickets.update(
                offer.ticket_id,
                {},
                actor=by if by == "supervisor" else f"seat:{by}",
                event="supervise",
                note=note,
            )
        except StoreError as exc:
            log.error("ticket %s: %s not noted: %s", offer.ticket_id, action, exc)
