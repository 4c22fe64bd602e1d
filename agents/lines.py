"""The seams between the ACD and the telephony side (implemented by ivr.sip, faked in tests)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Literal, Protocol

from ivr.control import QueueRequest, QueueResult

if TYPE_CHECKING:
    from ivr.config import SeatSettings

RingOutcome = Literal["answered", "no_answer", "busy", "failed", "caller_gone"]


class EntryState(Enum):
    WAITING = "waiting"
    RINGING = "ringing"
    CONNECTED = "connected"
    DONE = "done"


@dataclass(eq=False)
class QueueEntry:
    """A caller in a queue. The SIP side reads the first block; the rest is the ACD's."""

    call_id: str
    caller: str
    request: QueueRequest
    entered_at: float
    ticket_id: str | None = None
    callback: bool = False  # the caller hung up and asked to be called back; the seat dials them
    # ACD bookkeeping
    order: int = 0  # position key within equal priority; negative after a front re-queue
    state: EntryState = EntryState.WAITING
    seat_id: str | None = None
    declined: set[str] = field(default_factory=set)  # seats that missed this caller
    attempts: int = 0
    connected_at: float = 0.0
    next_announce: float = 0.0
    line: CallerLine | None = None
    result: asyncio.Future[QueueResult] | None = None
    offer_task: asyncio.Task[None] | None = None
    timer_task: asyncio.Task[None] | None = None
    announce_task: asyncio.Task[None] | None = None

    @property
    def queue(self) -> str:
        return self.request.queue

    @property
    def priority(self) -> int:
        return self.request.priority


class ScreenPop(Protocol):
    async def offer(self, entry: QueueEntry, seat: SeatSettings, waited: float) -> str | None:
        """Write or re-point the ticket draft and publish the pop; returns the ticket id."""
        ...


class SeatLine(Protocol):
    async def ring(self, seat: SeatSettings, entry: QueueEntry, timeout: float) -> RingOutcome:
        """Dial the seat; return how the offer ended, at most `timeout` seconds after it began.

        On "answered" the SIP side bridges the seat with the caller (for a callback entry it
        dials `entry.caller` from the answered seat) and later reports the end with
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
