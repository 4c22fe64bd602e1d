"""Queue and seat events, in the spirit of Asterisk's queue_log: every step is one record.

The queue emits them, the store keeps them, the board and the reports compute every figure
from them, so a restarted process or a supervisor's report sees the same numbers as the board.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class QueueEventKind(StrEnum):
    ENTERQUEUE = "ENTERQUEUE"  # data: position, priority, caller
    OFFER = "OFFER"  # seat rung; data: attempt, wait
    RINGNOANSWER = "RINGNOANSWER"  # data: outcome (no_answer|busy|failed), ring
    RINGCANCELED = "RINGCANCELED"  # caller left while the seat rang
    CONNECT = "CONNECT"  # data: wait, ring
    ABANDON = "ABANDON"  # caller hung up waiting; data: position, wait
    EXITWITHTIMEOUT = "EXITWITHTIMEOUT"  # data: position, wait
    EXITEMPTY = "EXITEMPTY"  # last seat logged out and the queue says leave; data: position, wait
    JOINEMPTY = "JOINEMPTY"  # no seat logged in at entry and the queue says leave
    FULL = "FULL"  # max_length reached at entry
    CALLBACK = "CALLBACK"  # caller hung up keeping their place; data: position, wait
    COMPLETEAGENT = "COMPLETEAGENT"  # the operator hung up first; data: wait, talk
    COMPLETECALLER = "COMPLETECALLER"  # the caller hung up first; data: wait, talk
    # a team leader on a connected call; data: mode (listen|whisper|barge|takeover|leave), leader, by
    SUPERVISE = "SUPERVISE"
    CRASHED = "CRASHED"  # the line stopped without ending it; written at its restart; data: wait, talk
    # the operator's call controls (agents.controls); seat_id is the operator who acted
    HOLD = "HOLD"  # the caller hears hold music
    UNHOLD = "UNHOLD"
    TRANSFER = "TRANSFER"  # data: to (seat, leader or skill), how (blind|consulted)
    CONSULT = "CONSULT"  # the caller holds while the operator talks to data: to; ends with data: outcome
    CONFERENCE = "CONFERENCE"  # three-way with an outside number; data: number (masked), outcome


# Events after which the caller is no longer in the queue (exactly one per ENTERQUEUE).
TERMINAL = frozenset(
    {
        QueueEventKind.ABANDON,
        QueueEventKind.EXITWITHTIMEOUT,
        QueueEventKind.EXITEMPTY,
        QueueEventKind.COMPLETEAGENT,
        QueueEventKind.COMPLETECALLER,
        QueueEventKind.CRASHED,
    }
)


class SeatState(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    NOT_READY = "not_ready"
    RINGING = "ringing"
    TALKING = "talking"
    WRAP_UP = "wrap_up"


@dataclass(frozen=True)
class QueueEvent:
    at: float
    call_id: str
    queue: str
    kind: QueueEventKind
    seat_id: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SeatEvent:
    """A seat entered `state`; `duration` is how long it spent in `previous` (wrap-up time is
    the duration of an event whose previous state is wrap_up)."""

    at: float
    seat_id: str
    state: SeatState
    previous: SeatState
    duration: float
    reason: str = ""
    call_id: str = ""


class EventSink(Protocol):
    """Must not block: the queue calls it from its dispatch path."""

    def queue_event(self, event: QueueEvent) -> None: ...

    def seat_event(self, event: SeatEvent) -> None: ...
