"""The ACD: callers wait in named queues, ready seats are matched to them, offers ring seats.

All state changes happen synchronously on the event loop (no awaits between a decision and
its bookkeeping), so a seat can never be given two callers and a caller never two seats.
Matching runs in one coalesced callback scheduled by every change that could make a match
possible; there is no long-lived dispatch task that could die and stop distribution.

Caller hangup while waiting: the SIP side cancels the task running `enqueue` (or calls
`caller_hangup`, which makes `enqueue` raise `CallerHangup`). Either one logs ABANDON.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from agents.clock import Clock, RealClock
from agents.eventlog import EventLog
from agents.handover import HandOvers
from agents.lines import CallerLine, EntryState, QueueEntry, ScreenPop, SeatLine
from agents.queue import CallQueue
from agents.seat import Seat, SeatError
from agents.strategy import Chooser, next_widen_at, qualifies, required_levels, wanted_skills
from agents.waiting import HandleTimes, announcement, estimated_wait
from ivr.config import STRATEGIES, QueueSettings, SeatSettings
from ivr.control import CallerHangup
from ivr.race import first
from ivr.records import (
    EventSink,
    Offer,
    QueueEvent,
    QueueRequest,
    QueueResult,
    RingOutcome,
    SeatEvent,
    SeatState,
)
from ivr.records import QueueEventKind as K

log = logging.getLogger(__name__)

SeatAction = Literal["login", "logout", "ready", "not_ready", "end_wrapup"]


@dataclass(frozen=True)
class QueueStatus:
    """What a flow may branch on before queueing (and what the live board shows)."""

    waiting: int
    ready: int
    logged_in: int
    estimated_wait: float
    longest_wait: float


class Acd(HandOvers):
    def __init__(
        self,
        queues: Mapping[str, QueueSettings],
        seats: Iterable[SeatSettings],
        line: SeatLine,
        *,
        clock: Clock | None = None,
        events: EventSink | None = None,
        screen_pop: ScreenPop | None = None,
    ) -> None:
        for q in queues.values():
            if q.strategy not in STRATEGIES:
                raise ValueError(f"queue {q.name}: unknown strategy {q.strategy!r}; known: {STRATEGIES}")
        self.queues = dict(queues)
        self.clock: Clock = clock or RealClock()
        self.events: EventSink = events if events is not None else EventLog()
        self._line = line
        self._pop = screen_pop
        self.seats: dict[str, Seat] = {}
        for i, s in enumerate(seats):
            self.seats[s.id] = Seat(s, i, self._seat_event)
        self._ready: dict[str, Seat] = {}
        self._waiting = CallQueue(self.queues)
        self._entries: dict[str, QueueEntry] = {}  # every caller not yet DONE, by call id
        self._chooser = Chooser()
        self._handle = HandleTimes()
        self._talk: dict[str, tuple[str, float]] = {}  # call id -> (queue, talk) until wrap-up ends
        self._match_scheduled = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._wrapups: dict[str, asyncio.Task[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._kick()

    async def stop(self) -> None:
        """Ends every wait with outcome "error" and cancels timers and offers."""
        for entry in list(self._entries.values()):
            self._finish(entry, QueueResult("error", entry.ticket_id, entry.seat_id, self._waited(entry)))
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("ACD task %s failed", task.get_name(), exc_info=task.exception())

    # --- callers -----------------------------------------------------------------------
    async def enqueue(self, caller_line: CallerLine, request: QueueRequest) -> QueueResult:
        """Wait in `request.queue` until the call is served and finished, or the caller leaves
        the queue another way; the outcome names the way."""
        call_id, caller = request.context.call_id, request.context.caller
        q = self.queues.get(request.queue)
        if q is None or call_id in self._entries:
            log.error("enqueue %s: unknown queue %r or call already queued", call_id, request.queue)
            return QueueResult("error")
        now = self.clock.now()
        if q.max_length > 0 and self._waiting.count(q.name) >= q.max_length:
            self._qevent(call_id, q.name, K.FULL, caller=caller)
            return QueueResult("full")
        if q.when_no_seats == "leave" and not self._logged_in(q.name):
            self._qevent(call_id, q.name, K.JOINEMPTY, caller=caller)
            return QueueResult("no_agents")
        await caller_line.start_hold_music()
        loop = asyncio.get_running_loop()
        entry = QueueEntry(request, now, line=caller_line)
        entry.result = loop.create_future()
        self._entries[call_id] = entry
        self._waiting.add(entry)
        self._qevent(
            call_id,
            q.name,
            K.ENTERQUEUE,
            position=self._position(entry),
            priority=entry.priority,
            caller=caller,
        )
        entry.next_announce = now + q.announce_every
        self._start_timers(entry)
        self._kick()
        try:
            return await entry.result
        except asyncio.CancelledError:
            self._caller_left(entry)
            raise

    def caller_hangup(self, call_id: str) -> None:
        """The caller hung up: abandon if waiting or ringing, complete if connected."""
        entry = self._entries.get(call_id)
        if entry is not None and entry.line is not None:
            self._caller_left(entry)

    def request_callback(self, call_id: str) -> bool:
        """The waiting caller chose a callback: `enqueue` returns "callback" and the entry keeps
        its place; when a seat answers, the seat's line dials the caller."""
        entry = self._entries.get(call_id)
        if entry is None or entry.state is not EntryState.WAITING or entry.callback:
            return False
        entry.callback = True
        self._cancel(entry.announce_task)
        self._qevent(
            call_id, entry.queue, K.CALLBACK, position=self._position(entry), wait=self._waited(entry)
        )
        line, entry.line = entry.line, None
        if line is not None:
            self._spawn(line.stop_hold_music(), f"hold-off-{call_id}")
        self._set_result(entry, QueueResult("callback", entry.ticket_id, None, self._waited(entry)))
        return True

    def call_ended(self, call_id: str, by: Literal["caller", "operator"]) -> bool:
        """The bridged call ended. Returns False (and does nothing) for an unknown call."""
        entry = self._entries.get(call_id)
        if entry is None or entry.state is not EntryState.CONNECTED:  # no seat: the operator left
            return False
        now = self.clock.now()
        seat = self.seats[entry.seat_id] if entry.seat_id else None
        talk = now - entry.connected_at
        kind = K.COMPLETEAGENT if by == "operator" else K.COMPLETECALLER
        self._qevent(
            call_id,
            entry.queue,
            kind,
            entry.seat_id or "",
            wait=entry.connected_at - entry.entered_at,
            talk=talk,
        )
        if seat is not None and not entry.seat_left:  # a leader's take-over freed it already
            self._seat_done(seat, call_id, entry.queue, talk)
        outcome: Literal["operator_hangup", "completed"] = (
            "operator_hangup" if by == "operator" else "completed"
        )
        self._finish(
            entry, QueueResult(outcome, entry.ticket_id, entry.seat_id, entry.connected_at - entry.entered_at)
        )
        return True

    def seat_left(self, call_id: str) -> bool:
        """The operator left a call that goes on (a team leader took it over): the seat goes to
        wrap-up now; the caller's entry ends with the conversation (`call_ended`)."""
        entry = self._entries.get(call_id)
        if (
            entry is None
            or entry.state is not EntryState.CONNECTED
            or entry.seat_id is None
            or entry.seat_left
        ):
            return False
        entry.seat_left = True
        talk = self.clock.now() - entry.connected_at
        self._seat_done(self.seats[entry.seat_id], call_id, entry.queue, talk)
        return True

    def _seat_done(self, seat: Seat, call_id: str, queue: str, talk: float) -> None:
        """The seat's part of a call is over: wrap-up (timed) or ready."""
        self._talk[call_id] = (queue, talk)
        wrapup = self._wrapup_seconds(seat, queue)
        seat.hung_up(self.clock.now(), wrapup > 0)
        if seat.state is SeatState.WRAP_UP:
            self._wrapups[seat.id] = self._spawn(
                self._wrapup_timer(seat, call_id, wrapup), f"wrapup-{seat.id}"
            )

    # --- seats -------------------------------------------------------------------------
    def put_seat(self, settings: SeatSettings) -> None:
        """A seat added or changed by an admin: routing uses it from the next match (a seat on
        a call keeps its state; only its settings change)."""
        seat = self.seats.get(settings.id)
        if seat is None:
            self.seats[settings.id] = Seat(settings, len(self.seats), self._seat_event)
        else:
            seat.settings = settings

    def seat_command(self, seat_id: str, action: SeatAction, reason: str = "") -> SeatState:
        """An operator's console request; raises SeatError when it does not fit the state."""
        seat = self.seats.get(seat_id)
        if seat is None:
            raise SeatError(f"unknown seat {seat_id!r}")
        now = self.clock.now()
        if action == "login":
            seat.login(now)
        elif action == "logout":
            seat.logout(now)
        elif action == "ready":
            seat.ready(now)
        elif action == "not_ready":
            seat.not_ready(now, reason)
        elif action == "end_wrapup":
            seat.end_wrapup(now)
        else:
            raise SeatError(f"unknown action {action!r}")
        return seat.state

    def _wrapup_seconds(self, seat: Seat, queue: str) -> float:
        if seat.settings.wrapup_seconds is not None:
            return seat.settings.wrapup_seconds
        return self.queues[queue].wrapup_seconds

    async def _wrapup_timer(self, seat: Seat, call_id: str, seconds: float) -> None:
        await self.clock.sleep(seconds)
        if seat.state is SeatState.WRAP_UP and seat.call_id == call_id:
            seat.end_wrapup(self.clock.now())

    def _seat_event(self, event: SeatEvent) -> None:
        seat = self.seats[event.seat_id]
        if event.state is SeatState.READY:
            self._ready[seat.id] = seat
            self._kick()
        else:
            self._ready.pop(seat.id, None)
        if event.previous is SeatState.WRAP_UP:
            self._cancel(self._wrapups.pop(seat.id, None))
            queue, talk = self._talk.pop(event.call_id, ("", 0.0))
            if queue:
                self._handle.add(queue, talk + event.duration)
        self.events.seat_event(event)
        if event.state is SeatState.LOGGED_OUT:
            self._leave_empty_queues()

    def _logged_in(self, queue: str) -> bool:
        return any(s.logged_in and s.serves(queue) for s in self.seats.values())

    def _leave_empty_queues(self) -> None:
        for q in self.queues.values():
            if q.when_no_seats != "leave" or self._logged_in(q.name):
                continue
            for entry in [e for e in self._waiting.of(q.name) if not e.callback]:
                self._exit(entry, K.EXITEMPTY, "no_agents")

    # --- queue bookkeeping ---------------------------------------------------------------
    def _position(self, entry: QueueEntry) -> int:
        return self._waiting.position(entry)

    def _waited(self, entry: QueueEntry) -> float:
        return max(0.0, self.clock.now() - entry.entered_at)

    def _qevent(self, call_id: str, queue: str, kind: K, seat_id: str = "", **data: Any) -> None:
        self.events.queue_event(QueueEvent(self.clock.now(), call_id, queue, kind, seat_id, data))

    @staticmethod
    def _cancel(task: asyncio.Task[Any] | None) -> None:
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()

    def _set_result(self, entry: QueueEntry, result: QueueResult | BaseException) -> None:
        fut = entry.result
        if fut is None or fut.done():
            return
        if isinstance(result, BaseException):
            fut.set_exception(result)
        else:
            fut.set_result(result)

    def _finish(self, entry: QueueEntry, result: QueueResult | BaseException) -> None:
        """The entry leaves the ACD for good."""
        self._waiting.remove(entry)
        entry.state = EntryState.DONE
        self._entries.pop(entry.call_id, None)
        for task in (entry.timer_task, entry.announce_task, entry.offer_task):
            self._cancel(task)
        self._set_result(entry, result)

    def _exit(self, entry: QueueEntry, kind: K, outcome: Literal["timeout", "no_agents"]) -> None:
        self._qevent(
            entry.call_id, entry.queue, kind, position=self._position(entry), wait=self._waited(entry)
        )
        self._finish(entry, QueueResult(outcome, entry.ticket_id, None, self._waited(entry)))

    # --- waiting-time timers ---------------------------------------------------------------
    def _start_timers(self, entry: QueueEntry) -> None:
        self._cancel(entry.timer_task)
        entry.timer_task = self._spawn(self._timers(entry), f"wait-{entry.call_id}")

    async def _timers(self, entry: QueueEntry) -> None:
        """Max wait, announcements and skill widening while the entry is WAITING."""
        q = self.queues[entry.queue]
        for _ in range(1_000_000):  # one turn per timer that fires; ends with the wait
            if entry.state is not EntryState.WAITING:
                return
            now = self.clock.now()
            deadline = entry.entered_at + q.max_wait if q.max_wait > 0 and not entry.callback else None
            if deadline is not None and now >= deadline:
                self._exit(entry, K.EXITWITHTIMEOUT, "timeout")
                return
            if q.announce_every > 0 and entry.line is not None and now >= entry.next_announce:
                entry.next_announce = now + q.announce_every
                if entry.announce_task is None or entry.announce_task.done():
                    entry.announce_task = self._spawn(self._announce(entry), f"announce-{entry.call_id}")
            wakes = [t for t in (deadline, next_widen_at(entry, q, now)) if t is not None]
            if q.announce_every > 0 and entry.line is not None:
                wakes.append(entry.next_announce)
            if not wakes:
                return
            await self.clock.sleep(max(0.0, min(wakes) - now))
            self._kick()  # a widened skill match may now find a seat

    async def _announce(self, entry: QueueEntry) -> None:
        if entry.line is not None:
            await entry.line.announce(self._announcement(entry))

    def _announcement(self, entry: QueueEntry) -> str:
        return announcement(self._position(entry), self.status(entry.queue, entry).estimated_wait)

    def status(self, queue: str, entry: QueueEntry | None = None) -> QueueStatus:
        q = self.queues[queue]
        now = self.clock.now()
        waiting = self._waiting.of(queue)
        serving = [s for s in self.seats.values() if s.serves(queue) and s.logged_in]
        position = self._position(entry) if entry is not None else len(waiting) + 1
        working = sum(1 for s in serving if s.state is not SeatState.NOT_READY)
        ewt = estimated_wait(position, working, self._handle.average(queue, q.default_handle_seconds))
        return QueueStatus(
            waiting=len(waiting),
            ready=sum(1 for s in serving if s.state is SeatState.READY),
            logged_in=len(serving),
            estimated_wait=ewt,
            longest_wait=max((now - e.entered_at for e in waiting), default=0.0),
        )

    def waiting(self) -> list[QueueEntry]:
        """Callers waiting (not ringing), in service order."""
        return list(self._waiting)

    # --- matching and offers -------------------------------------------------------------
    def _kick(self) -> None:
        """Schedule one match round; many changes in one loop turn share it."""
        if self._match_scheduled:
            return
        loop = self._loop
        if loop is None:
            try:
                loop = self._loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # not started yet; start() kicks
        self._match_scheduled = True
        loop.call_soon(self._match)

    def _match(self) -> None:
        self._match_scheduled = False
        if not self._ready or not len(self._waiting):
            return
        now = self.clock.now()
        taken: set[str] = set()
        try:
            for entry in self._waiting.in_order():
                if not self._ready:
                    break
                q = self.queues[entry.queue]
                levels = required_levels(entry, q, now)
                if entry.only:
                    seats = [s for s in self._ready.values() if s.id in entry.only]
                else:
                    seats = [s for s in self._ready.values() if s.serves(q.name) and qualifies(s, levels)]
                if seats:
                    seat = self._chooser.pick(q.strategy, seats, entry, wanted_skills(entry, q))
                    taken.add(entry.call_id)
                    self._start_offer(entry, seat, now)
        finally:
            self._waiting.remove_many(taken)

    def _start_offer(self, entry: QueueEntry, seat: Seat, now: float) -> None:
        entry.state = EntryState.RINGING
        entry.seat_id = seat.id
        entry.attempts += 1
        self._cancel(entry.timer_task)
        seat.offer(now, entry.call_id)  # leaves _ready through its seat event
        self._qevent(
            entry.call_id, entry.queue, K.OFFER, seat.id, attempt=entry.attempts, wait=now - entry.entered_at
        )
        entry.offer_task = self._spawn(self._offer(entry, seat), f"offer-{entry.call_id}-{seat.id}")

    async def _offer(self, entry: QueueEntry, seat: Seat) -> None:
        q = self.queues[entry.queue]
        started = self.clock.now()
        offer = Offer(
            entry.context,
            entry.queue,
            seat.id,
            seat.settings.uri,
            priority=entry.priority,
            ticket_id=entry.ticket_id or "",
            attempt=entry.attempts,
            waited=round(started - entry.entered_at, 1),
            callback=entry.callback,
        )
        if self._pop is not None:
            try:  # the pop must not hold the caller: a slow store or bus is logged and skipped
                entry.ticket_id = await asyncio.wait_for(self._pop.offer(offer), 2.0) or entry.ticket_id
                offer = replace(offer, ticket_id=entry.ticket_id or "")
            except Exception:
                log.exception("screen pop for %s to seat %s failed", entry.call_id, seat.id)
        outcome: RingOutcome = "no_answer"
        ring = asyncio.ensure_future(self._line.ring(offer, q.ring_timeout))
        # the guard keeps a seat from staying "ringing" if the line never answers us
        await first(ring, self.clock.sleep(q.ring_timeout + 5.0))
        if ring.done() and not ring.cancelled():
            if ring.exception() is not None:
                log.error("ring seat %s failed", seat.id, exc_info=ring.exception())
                outcome = "failed"
            else:
                outcome = ring.result()
        self._ring_ended(entry, seat, outcome, started)

    def _ring_ended(self, entry: QueueEntry, seat: Seat, outcome: RingOutcome, started: float) -> None:
        if entry.state is not EntryState.RINGING or entry.seat_id != seat.id:
            return
        now = self.clock.now()
        q = self.queues[entry.queue]
        if outcome == "answered":
            seat.answered(now)
            entry.state = EntryState.CONNECTED
            entry.connected_at = now
            self._cancel(entry.announce_task)
            self._qevent(
                entry.call_id,
                q.name,
                K.CONNECT,
                seat.id,
                wait=now - entry.entered_at,
                ring=now - started,
                **({"transfer": True} if entry.transferred else {}),
            )
            if entry.line is not None:
                self._spawn(entry.line.stop_hold_music(), f"hold-off-{entry.call_id}")
            return
        if outcome == "caller_gone":
            self._caller_left(entry)
            return
        seat.ring_failed(now, True, q.max_no_answer)
        self._qevent(entry.call_id, q.name, K.RINGNOANSWER, seat.id, outcome=outcome, ring=now - started)
        entry.declined.add(seat.id)
        entry.only = frozenset()  # a transfer's target missed it: any seat of the queue will do
        entry.seat_id = None
        self._waiting.add(entry, front=True)
        entry.next_announce = max(entry.next_announce, now + q.announce_every / 2)
        self._start_timers(entry)  # exits at once if max wait passed while ringing
        self._kick()

    def _caller_left(self, entry: QueueEntry) -> None:
        now = self.clock.now()
        if entry.state is EntryState.CONNECTED:
            self.call_ended(entry.call_id, "caller")
            return
        if entry.state is EntryState.DONE:
            return
        position = self._position(entry)
        if entry.state is EntryState.RINGING and entry.seat_id is not None:
            seat = self.seats[entry.seat_id]
            self._cancel(entry.offer_task)
            seat.ring_failed(now, False, self.queues[entry.queue].max_no_answer)
            self._qevent(entry.call_id, entry.queue, K.RINGCANCELED, seat.id)
            position = 1  # it was being served: nobody was ahead
        self._qevent(entry.call_id, entry.queue, K.ABANDON, position=position, wait=now - entry.entered_at)
        self._finish(entry, CallerHangup())
