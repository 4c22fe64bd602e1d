"""The ACD's event log, in the spirit of Asterisk's queue_log: every step is one record.

Figures (agents.stats) are computed from these records only, so a restarted process or a
supervisor's report sees the same numbers as the live board.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class QueueEventKind(StrEnum):
    ENTERQUEUE = "ENTERQUEUE"  # data: position, priority, caller
    OFFER = "OFFER"  # seat rung; data: ticket_id, attempt
    RINGNOANSWER = "RINGNOANSWER"  # data: outcome (no_answer|busy|failed), ring
    RINGCANCELED = "RINGCANCELED"  # caller left while the seat rang
    CONNECT = "CONNECT"  # data: wait, ring
    ABANDON = "ABANDON"  # caller hung up waiting; data: position, entry_position, wait
    EXITWITHTIMEOUT = "EXITWITHTIMEOUT"  # data: position, wait
    EXITEMPTY = "EXITEMPTY"  # last seat logged out and the queue says leave; data: position, wait
    JOINEMPTY = "JOINEMPTY"  # no seat logged in at entry and the queue says leave
    FULL = "FULL"  # max_length reached at entry
    CALLBACK = "CALLBACK"  # caller hung up keeping their place; data: position, wait
    COMPLETEAGENT = "COMPLETEAGENT"  # data: wait, talk
    COMPLETECALLER = "COMPLETECALLER"  # data: wait, talk


# Events after which the caller is no longer in the queue (exactly one per ENTERQUEUE).
TERMINAL = frozenset(
    {
        QueueEventKind.ABANDON,
        QueueEventKind.EXITWITHTIMEOUT,
        QueueEventKind.EXITEMPTY,
        QueueEventKind.COMPLETEAGENT,
        QueueEventKind.COMPLETECALLER,
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
    """Must not block: the ACD calls it from its dispatch path."""

    def queue_event(self, event: QueueEvent) -> None: ...

    def seat_event(self, event: SeatEvent) -> None: ...


class EventLog:
    """Keeps events in memory and fans them out to further sinks (the store, the bus)."""

    def __init__(self, *sinks: EventSink, keep: int = 100_000) -> None:
        self.queue: list[QueueEvent] = []
        self.seat: list[SeatEvent] = []
        self._sinks = list(sinks)
        self._keep = keep
        self._listeners: list[Callable[[QueueEvent | SeatEvent], None]] = []

    def add_sink(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def listen(self, fn: Callable[[QueueEvent | SeatEvent], None]) -> None:
        self._listeners.append(fn)

    def queue_event(self, event: QueueEvent) -> None:
        self.queue.append(event)
        if len(self.queue) > self._keep:
            del self.queue[: self._keep // 10]
        for sink in self._sinks:
            sink.queue_event(event)
        for fn in self._listeners:
            fn(event)

    def seat_event(self, event: SeatEvent) -> None:
        self.seat.append(event)
        if len(self.seat) > self._keep:
            del self.seat[: self._keep // 10]
        for sink in self._sinks:
            sink.seat_event(event)
        for fn in self._listeners:
            fn(event)
