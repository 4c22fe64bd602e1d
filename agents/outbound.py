"""Outbound calls from the operator's console (a callback to a citizen, a unit's phone, a
follow-up from the worklist): the seat's phone rings first, then the number (ivr.sip.outcall
does the SIP part). The seat is busy from the moment the call is asked for, so the queue offers
it no caller meanwhile; when the call ends the seat wraps up, and a seat that was not ready goes
back to not ready."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from agents.acd import Acd
from agents.seat import Seat, SeatError
from agents.shared import AnyAcd
from ivr.control import ControlError
from ivr.privacy import mask
from ivr.records import OutboundResult, SeatState
from ivr.store import Store

log = logging.getLogger(__name__)
FREE = (SeatState.READY, SeatState.NOT_READY)
WORDS = {"answered": "已接通", "busy": "占线", "no_answer": "无人接听"}

Note = Callable[[str | None, str, str, str], Awaitable[None]]  # ticket, seat, event, words


class Dialer(Protocol):
    """Seat phone first, then the number (ivr.sip.outcall.OutboundFlows.connect)."""

    async def __call__(
        self, seat_uri: str, number: str, call_id: str, *, on_end: Callable[[], None] | None = None
    ) -> OutboundResult: ...


class OutboundCalls:
    def __init__(
        self, acd: AnyAcd, store: Store, changed: Callable[[str], None], note: Note, dialer: Dialer | None
    ) -> None:
        self._acd = acd
        self._store = store
        self._changed = changed
        self._note = note
        self.dialer = dialer
        self.calls: dict[str, dict[str, Any]] = {}  # by seat id: the call as its console shows it
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, seat: Seat, number: str, ticket_id: str) -> dict[str, Any]:
        """The console's call: checked and begun now, placed in the background (the console
        follows it on the live socket); noted on `ticket_id` when given."""
        if ticket_id:
            ticket = await self._store.tickets.get(ticket_id)
            if ticket is None or ticket.operator != seat.id:
                raise ControlError(403, f"座席 {seat.id} 不是工单 {ticket_id} 的受理人")
        call_id = self._take(seat, number, ticket_id)
        self._spawn(self._place(seat, number, call_id, ticket_id))
        return {"outcome": "calling"}

    async def place(self, seat_uri: str, number: str, call_id: str) -> OutboundResult:
        """A follow-up from the worklist (agents.web.followups): the same call, awaited."""
        seat = next((s for s in self._acd.seats.values() if s.settings.uri == seat_uri), None)
        if seat is None or not isinstance(self._acd, Acd):  # the shared queue's seats are rows
            if self.dialer is None:
                raise ControlError(503, "外呼线路未启用")
            return await self.dialer(seat_uri, number, call_id)
        return await self._run(seat, number, self._take(seat, number, "", call_id))

    def _take(self, seat: Seat, number: str, ticket_id: str, call_id: str = "") -> str:
        if self.dialer is None:
            raise ControlError(503, "外呼线路未启用（[followup] trunk 未配置）")
        if not isinstance(self._acd, Acd):
            raise ControlError(501, "集群（共享队列）模式下暂不支持外呼")
        if seat.state not in FREE or seat.id in self.calls:
            raise ControlError(409, "通话中或未签入，不能外呼")
        call_id = call_id or f"out-{uuid.uuid4().hex[:12]}"
        try:
            self._acd.take_seat(seat.id, call_id)  # busy from now: no caller is offered meanwhile
        except SeatError as exc:
            raise ControlError(409, str(exc)) from exc
        self.calls[seat.id] = {
            "call_id": call_id,
            "number": number,
            "state": "calling",
            "ticket_id": ticket_id,
        }
        self._changed(seat.id)
        return call_id

    async def _place(self, seat: Seat, number: str, call_id: str, ticket_id: str) -> None:
        result = await self._run(seat, number, call_id)
        if ticket_id:
            await self._note(
                ticket_id, seat.id, "call", f"外呼 {number}：{WORDS.get(result.outcome, '未接通')}"
            )

    async def _run(self, seat: Seat, number: str, call_id: str) -> OutboundResult:
        assert self.dialer is not None and isinstance(self._acd, Acd)
        acd = self._acd
        queue = seat.settings.queues[0] if seat.settings.queues else ""  # its wrap-up length

        def ended() -> None:
            self.calls.pop(seat.id, None)
            acd.free_seat(seat.id, call_id, queue)
            self._changed(seat.id)

        result = OutboundResult("failed")
        try:
            result = await self.dialer(seat.settings.uri, number, call_id, on_end=ended)
        finally:
            log.info("seat %s: outbound call to %s: %s", seat.id, mask(number), result.outcome)
            if result.outcome == "answered":
                if seat.id in self.calls:
                    self.calls[seat.id]["state"] = "answered"
            else:
                self.calls.pop(seat.id, None)
                acd.free_seat(seat.id, call_id, wrapup=False)
            self._changed(seat.id)
        return result

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
