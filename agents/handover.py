"""The ACD's part of the operators' call controls (agents.controls): a connected caller moves
between seats (blind transfer back to the queue, a consultation handed over), an operator leaves a
call that goes on (a three-way call), a seat takes a call the operators placed. A mixin of `Acd`,
kept apart so the queue's own life (agents.acd) stays readable; like the rest of the ACD every
method changes state synchronously on the loop."""

from __future__ import annotations

from agents.clock import Clock
from agents.lines import EntryState, QueueEntry
from agents.queue import CallQueue
from agents.seat import Seat, SeatError
from ivr.config import QueueSettings
from ivr.records import SeatState


class HandOvers:
    # the Acd's state these methods work on (agents.acd)
    seats: dict[str, Seat]
    queues: dict[str, QueueSettings]
    clock: Clock
    _entries: dict[str, QueueEntry]
    _waiting: CallQueue

    def _seat_done(self, seat: Seat, call_id: str, queue: str, talk: float) -> None: ...

    def _start_timers(self, entry: QueueEntry) -> None: ...

    def _kick(self) -> None: ...

    def connected(self, call_id: str) -> QueueEntry | None:
        """The entry of a caller talking to a seat (or, after the operator left a three-way
        call, to an outside party)."""
        entry = self._entries.get(call_id)
        return entry if entry is not None and entry.state is EntryState.CONNECTED else None

    def take_seat(self, seat_id: str, call_id: str) -> None:
        """A free seat starts a call the operators placed (a consultation, an outbound call)."""
        seat = self.seats.get(seat_id)
        if seat is None:
            raise SeatError(f"unknown seat {seat_id!r}")
        seat.take(self.clock.now(), call_id)

    def free_seat(self, seat_id: str, call_id: str, queue: str = "", *, wrapup: bool = True) -> None:
        """That call is over for the seat: wrap-up (of `queue`'s length, or the seat's own), or
        ready at once without it (a consultation that went back)."""
        seat = self.seats.get(seat_id)
        if seat is None or seat.call_id != call_id or seat.state is not SeatState.TALKING:
            return
        if wrapup and queue in self.queues:
            self._seat_done(seat, call_id, queue, self.clock.now() - seat.since)
        else:
            seat.hung_up(self.clock.now(), False)

    def leave_call(self, call_id: str) -> str:
        """The operator leaves a connected call that goes on without them (a three-way call, a
        transfer): their seat goes to wrap-up; returns the seat id ("" if none)."""
        entry = self.connected(call_id)
        if entry is None or entry.seat_id is None:
            return ""
        seat = self.seats[entry.seat_id]
        entry.seat_id = None
        self._seat_done(seat, call_id, entry.queue, self.clock.now() - entry.connected_at)
        return seat.id

    def hand_over(self, call_id: str, seat_id: str) -> None:
        """A consultation completed: the seat that took part (talking on this call since
        `take_seat`) is now the caller's seat; the first seat leaves."""
        entry = self.connected(call_id)
        if entry is None:
            return
        self.leave_call(call_id)
        entry.seat_id = seat_id

    def requeue(self, call_id: str, only: frozenset[str]) -> None:
        """Blind transfer: the caller waits again, at the front, for one of `only` (a seat, the
        team leader's, or a skill group's seats); the first seat leaves; the ticket goes along
        with the next offer. If the target does not answer, any seat of the queue may take it."""
        entry = self.connected(call_id)
        if entry is None:
            return
        self.leave_call(call_id)
        now = self.clock.now()
        entry.state = EntryState.WAITING
        entry.only = only
        entry.transferred = True
        entry.entered_at = now  # the transfer's own wait (max_wait counts from here)
        entry.declined.clear()
        self._waiting.add(entry, front=True)
        entry.next_announce = now + self.queues[entry.queue].announce_every
        self._start_timers(entry)
        self._kick()
