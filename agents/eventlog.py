"""The queue's event log: keeps recent queue and seat events in memory for the live board and
fans each one out to the sinks (the store, the MQTT console) and to listeners (live sockets)."""

from __future__ import annotations

from collections.abc import Callable

from ivr.records import EventSink, QueueEvent, SeatEvent


class EventLog:
    def __init__(self, *sinks: EventSink, keep: int = 100_000) -> None:
        self.queue: list[QueueEvent] = []
        self.seat: list[SeatEvent] = []
        self._sinks = list(sinks)
        self._keep = keep
        self._listeners: list[Callable[[QueueEvent | SeatEvent], None]] = []

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
