"""The queue's entries and its seams to the telephony side and the screen pop (implemented by
ivr.sip and ivr.tickets, wired in ivr.app, faked in tests)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from ivr.records import CallContext, Offer, QueueRequest, QueueResult, RingOutcome


class EntryState(Enum):
    WAITING = "waiting"
    RINGING = "ringing"
    CONNECTED = "connected"
    DONE = "done"


@dataclass(eq=False)
class QueueEntry:
    """A caller in a queue: the request as the flow made it, and the ACD's bookkeeping."""

    request: QueueRequest
    entered_at: float
    ticket_id: str | None = None
    callback: bool = False  # the caller hung up and asked to be called back; the seat dials them
    order: int = 0  # position key within equal priority; negative after a front re-queue
    state: EntryState = EntryState.WAITING
    seat_id: str | None = None
    declined: set[str] = field(default_factory=set)  # seats that missed this caller
    only: frozenset[str] = frozenset()  # a transfer's target seats; empty: any seat of the queue
    transferred: bool = False  # queued again by a blind transfer: its next CONNECT is not a new answer
    attempts: int = 0
    connected_at: float = 0.0
    seat_left: bool = False  # the operator left a call that went on (a team leader took it over)
    next_announce: float = 0.0
    line: CallerLine | None = None
    result: asyncio.Future[QueueResult] | None = None
    offer_task: asyncio.Task[None] | None = None
    timer_task: asyncio.Task[None] | None = None
    announce_task: asyncio.Task[None] | None = None

    @property
    def context(self) -> CallContext:
        return self.request.context

    @property
    def call_id(self) -> str:
        return self.request.context.call_id

    @property
    def caller(self) -> str:
        return self.request.context.caller

    @property
    def queue(self) -> str:
        return self.request.queue

    @property
    def priority(self) -> int:
        return self.request.priority


class ScreenPop(Protocol):
    async def offer(self, offer: Offer) -> str:
        """Write (or re-point) the ticket draft and queue the pop for the seat's console in one
        transaction; returns the ticket id."""
        ...


class SeatLine(Protocol):
    async def ring(self, offer: Offer, timeout: float) -> RingOutcome:
        """Dial the seat; return how the offer ended, at most `timeout` seconds after it began.

        On "answered" the SIP side bridges the seat with the caller (for a callback offer it
        dials the caller from the answered seat) and later reports the end with
        `Acd.call_ended`. If the ACD cancels this coroutine (the caller hung up), stop ringing.
        """
        ...


class CallerLine(Protocol):
    """The waiting caller's leg. Each method may be cancelled when the caller is connected."""

    async def start_hold_music(self) -> None: ...

    async def stop_hold_music(self) -> None: ...

    async def announce(self, text: str) -> None:
        """Speak `text` over the hold music (pausing it is the line's choice)."""
        ...


class SilentLine:
    """A CallerLine that plays nothing: callback entries and benchmarks."""

    async def start_hold_music(self) -> None:
        return None

    async def stop_hold_music(self) -> None:
        return None

    async def announce(self, text: str) -> None:
        return None
