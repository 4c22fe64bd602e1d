"""One operator seat: its state machine, counters the strategies read, and its events.

Operator requests that cannot apply now (not ready or log out while ringing or talking) are
remembered as `pending` and applied when wrap-up ends, so a seat is never stuck in a state
and a call in progress is never cut by a console click.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ivr.config import SeatSettings
from ivr.records import SeatEvent, SeatState

NO_ANSWER = "no_answer"
# Reasons a console offers; any other non-empty text is accepted and logged as given.
REASONS = ("break", "training", "meeting", "lunch", NO_ANSWER)


class SeatError(ValueError):
    """An operator request that does not fit the seat's current state."""


@dataclass(frozen=True)
class Pending:
    state: SeatState  # NOT_READY or LOGGED_OUT
    reason: str = ""


class Seat:
    def __init__(self, settings: SeatSettings, order: int, emit: Callable[[SeatEvent], None]) -> None:
        self.settings = settings
        self.order = order  # roster position, for round robin
        self._emit = emit
        self.state = SeatState.LOGGED_OUT
        self.reason = ""
        self.since = 0.0  # when the current state began
        self.idle_since = 0.0  # when the seat last became free for a call (longest-idle)
        self.calls = 0
        self.talk_seconds = 0.0
        self.misses = 0  # consecutive unanswered offers
        self.call_id = ""  # the call it is ringing for, talking on, or wrapping up
        self.pending: Pending | None = None

    @property
    def id(self) -> str:
        return self.settings.id

    @property
    def logged_in(self) -> bool:
        return self.state is not SeatState.LOGGED_OUT

    def serves(self, queue: str) -> bool:
        return queue in self.settings.queues

    def skill(self, name: str) -> int:
        return self.settings.skills.get(name, 0)

    def _go(self, state: SeatState, now: float, reason: str = "") -> None:
        event = SeatEvent(
            at=now,
            seat_id=self.id,
            state=state,
            previous=self.state,
            duration=max(0.0, now - self.since) if self.since else 0.0,
            reason=reason,
            call_id=self.call_id,
        )
        self.state, self.reason, self.since = state, reason, now
        self._emit(event)

    # --- operator requests -------------------------------------------------------------
    def login(self, now: float, ready: bool = True) -> None:
        if self.logged_in:
            raise SeatError(f"seat {self.id} is already logged in")
        self.misses = 0
        self.idle_since = now
        self._go(SeatState.READY if ready else SeatState.NOT_READY, now, "" if ready else "login")

    def logout(self, now: float) -> None:
        if self.state in (SeatState.RINGING, SeatState.TALKING, SeatState.WRAP_UP):
            self.pending = Pending(SeatState.LOGGED_OUT)
            if self.state is SeatState.WRAP_UP:
                self.end_wrapup(now)
            return
        if not self.logged_in:
            raise SeatError(f"seat {self.id} is not logged in")
        self._go(SeatState.LOGGED_OUT, now)

    def ready(self, now: float) -> None:
        if not self.logged_in:
            raise SeatError(f"seat {self.id} must log in first")
        if self.state in (SeatState.RINGING, SeatState.TALKING):
            self.pending = None  # cancels an earlier "not ready after this call"
            return
        if self.state is SeatState.WRAP_UP:
            self.pending = None
            self.end_wrapup(now)
            return
        if self.state is SeatState.NOT_READY:
            self.misses = 0
            self.idle_since = now
            self._go(SeatState.READY, now)

    def not_ready(self, now: float, reason: str) -> None:
        if not reason:
            raise SeatError("a not-ready state needs a reason")
        if not self.logged_in:
            raise SeatError(f"seat {self.id} must log in first")
        if self.state in (SeatState.RINGING, SeatState.TALKING, SeatState.WRAP_UP):
            self.pending = Pending(SeatState.NOT_READY, reason)
            return
        self._go(SeatState.NOT_READY, now, reason)

    def end_wrapup(self, now: float) -> None:
        """Wrap-up over (timer or operator): the next caller may come, unless a request waits."""
        if self.state is not SeatState.WRAP_UP:
            raise SeatError(f"seat {self.id} is not in wrap-up")
        pending, self.pending = self.pending, None
        if pending is None:
            self.idle_since = now
            self._go(SeatState.READY, now)
        else:
            self._go(pending.state, now, pending.reason)
        self.call_id = ""

    # --- call events (from the ACD) --------------------------------------------------
    def offer(self, now: float, call_id: str) -> None:
        assert self.state is SeatState.READY, f"offer to seat {self.id} in state {self.state}"
        self.call_id = call_id
        self._go(SeatState.RINGING, now)

    def answered(self, now: float) -> None:
        assert self.state is SeatState.RINGING
        self.misses = 0
        self._go(SeatState.TALKING, now)

    def ring_failed(self, now: float, counted: bool, max_misses: int) -> None:
        """The offer ended unanswered; `counted` is false when the caller left while ringing."""
        assert self.state is SeatState.RINGING
        if counted:
            self.misses += 1
        pending, self.pending = self.pending, None
        if counted and self.misses >= max_misses:
            self._go(SeatState.NOT_READY, now, NO_ANSWER)
        elif pending is not None:
            self._go(pending.state, now, pending.reason)
        else:
            self._go(SeatState.READY, now)  # idle_since kept: the seat did not work meanwhile
        self.call_id = ""

    def take(self, now: float, call_id: str) -> None:
        """A call the operator's side starts (a consultation reaching this seat, an outbound
        call from its console): talking at once; a not-ready seat returns to not ready after."""
        if self.state not in (SeatState.READY, SeatState.NOT_READY):
            raise SeatError(f"seat {self.id} is {self.state.value}, not free for a call")
        if self.state is SeatState.NOT_READY:
            self.pending = Pending(SeatState.NOT_READY, self.reason)
        self.call_id = call_id
        self.misses = 0
        self._go(SeatState.TALKING, now)

    def hung_up(self, now: float, wrapup: bool) -> None:
        assert self.state is SeatState.TALKING
        self.calls += 1
        self.talk_seconds += max(0.0, now - self.since)
        self._go(SeatState.WRAP_UP, now)
        if not wrapup:
            self.end_wrapup(now)
