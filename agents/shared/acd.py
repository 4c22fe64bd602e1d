"""The ACD of a centre with several nodes: one queue in PostgreSQL, each caller's media on the
node that answered them.

Split of work, and why:
- PostgreSQL holds what every node must agree on: waiting callers (`queue_entries`) and seat
  states (`queue_seats`). Every change is one transaction that locks the rows it changes, and
  the decisions are made by the in-memory ACD's own code (`Seat`'s state machine, the
  strategies, skill widening), so one node and many behave alike.
- The node that answered a caller keeps everything that touches their media: hold music,
  announcements, wait timers, the screen pop and ringing the seat (`SeatLine`), and it reports
  each outcome in a transaction. A match round may run on any node (matching.py); an offer for
  another node's caller reaches that node by NOTIFY on its own channel.
- A seat freeing, a caller arriving and an unanswered offer decide the next match in the very
  transaction that made the change; other changes wake every node by LISTEN/NOTIFY. There is no
  polling interval anywhere.
- Node leases (leases.py): a dead node's callers become callback tickets, its seats are freed.

The single-node SQLite path keeps `agents.acd.Acd` (all in memory, no round trips); this class
has the same surface except that seat commands and the waiting list are coroutines (`status()`
and `seats` come from copies every node keeps current by NOTIFY).

Concurrency contract: all methods run on one event loop. A caller's row is changed only by
their own node (join, outcome, hang-up, timeout), by a match round (waiting -> ringing, claimed
conditionally) and by a sweep once their node's lease expired; an offer message carries the
attempt number, so a stale local update never overrides a newer offer. Events are emitted
after their transaction commits.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from typing import Any, Literal

from agents.lines import CallerLine, EntryState, QueueEntry
from agents.shared.leases import Lost
from agents.shared.matching import Round
from agents.shared.node import ERRORS, JOIN_LOCK
from agents.shared.rows import Conn, SeatBox, context_json, is_ready, logged_in, save_seat
from agents.shared.takeover import Takeover
from agents.shared.timers import CallerTimers
from ivr.control import CallerHangup
from ivr.race import first
from ivr.records import Offer, QueueRequest, QueueResult, RingOutcome, SeatState
from ivr.records import QueueEventKind as K

log = logging.getLogger(__name__)


class SharedAcd(CallerTimers):
    async def start(self) -> None:
        await super().start()
        self._spawn(Takeover(self).run(), f"lease-{self.node}")

    async def sweep(self) -> list[Lost]:
        """Renew this node's lease and take over expired nodes' callers and seats now (the
        lease task does it three times per lease period)."""
        return await Takeover(self).sweep()

    # --- callers -----------------------------------------------------------------------
    async def enqueue(self, caller_line: CallerLine, request: QueueRequest) -> QueueResult:
        """Wait in `request.queue` (shared by all nodes) until served and finished, or the caller
        leaves another way; the outcome names the way, as with `Acd.enqueue`."""
        call_id, caller = request.context.call_id, request.context.caller
        q = self.queues.get(request.queue)
        if q is None or call_id in self._entries:
            log.error("enqueue %s: unknown queue %r or call already queued", call_id, request.queue)
            return QueueResult("error")
        now = self.clock.now()
        entry = QueueEntry(request, now, line=caller_line)
        entry.result = asyncio.get_running_loop().create_future()
        self._entries[call_id] = entry  # before the row: an offer may arrive right after commit
        try:
            refused, position, rnd = await self._join(entry)
        except ERRORS as exc:  # the database away: the flow's error path, not a dead call
            self._entries.pop(call_id, None)
            log.error("enqueue %s: the shared queue is unreachable: %s", call_id, exc)
            return QueueResult("error")
        except BaseException:
            self._entries.pop(call_id, None)
            raise
        if refused is not None:
            self._entries.pop(call_id, None)
            kind = K.FULL if refused == "full" else K.JOINEMPTY
            self._qevent(call_id, q.name, kind, caller=caller)
            return QueueResult(refused)
        self._qevent(call_id, q.name, K.ENTERQUEUE, position=position, priority=entry.priority, caller=caller)
        if rnd is not None:
            self._emit_seats(rnd.box, decided=True)
            self._offered(rnd)
        try:  # from here a hang-up (cancellation) is settled by the row
            if entry.state is EntryState.WAITING:
                await caller_line.start_hold_music()
            entry.next_announce = now + q.announce_every
            self._start_timers(entry)
            return await entry.result
        except asyncio.CancelledError:
            self._caller_left(entry)
            raise

    async def _join(self, entry: QueueEntry) -> tuple[Literal["full", "no_agents"] | None, int, Round | None]:
        """One transaction under the queue's join lock, so `max_length` holds across nodes; the
        new caller is matched in it (a ready seat rings before the transaction ends)."""
        q = self.queues[entry.queue]
        box = self.box()
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", JOIN_LOCK, q.name)
            if q.max_length > 0:
                waiting = await conn.fetchval(
                    "SELECT count(*) FROM queue_entries WHERE queue = $1 AND state = 'waiting'", q.name
                )
                if waiting >= q.max_length:
                    return "full", 0, None
            if q.when_no_seats == "leave":
                serving = [s for s, cfg in self.seat_settings.items() if q.name in cfg.queues]
                logged = await logged_in(conn, serving)
                if not logged:
                    return "no_agents", 0, None
            entry.order = await conn.fetchval(
                "INSERT INTO queue_entries (call_id, queue, priority, weight, ord, skills, context,"
                " entered_at, state, node) VALUES ($1, $2, $3, $4, nextval('queue_order'), $5, $6, $7,"
                " 'waiting', $8) RETURNING ord",
                entry.call_id,
                q.name,
                entry.priority,
                q.weight,
                json.dumps(dict(entry.request.skills)),
                context_json(entry.context),
                entry.entered_at,
                self.node,
            )
            position = await self._position(conn, entry)
            rnd = await self._decide(conn, box)
        return None, position, rnd

    def caller_hangup(self, call_id: str) -> None:
        """The caller hung up: abandon if waiting or ringing, complete if connected."""
        entry = self._entries.get(call_id)
        if entry is not None and entry.line is not None:
            self._caller_left(entry)

    def request_callback(self, call_id: str) -> bool:
        """The waiting caller chose a callback: `enqueue` returns "callback" at once and the row
        keeps its place (no max wait); when a seat answers, the seat's line dials the caller."""
        entry = self._entries.get(call_id)
        if entry is None or entry.state is not EntryState.WAITING or entry.callback:
            return False
        entry.callback = True
        line, entry.line = entry.line, None
        for task in (entry.announce_task, entry.timer_task):
            if task is not None:
                task.cancel()
        if line is not None:
            self._spawn(line.stop_hold_music(), f"hold-off-{call_id}")
        fut = entry.result
        if fut is not None and not fut.done():
            fut.set_result(QueueResult("callback", entry.ticket_id, None, self._waited(entry)))
        self._spawn(self._keep_place(entry), f"callback-{call_id}")
        return True

    async def _keep_place(self, entry: QueueEntry) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            position = await self._position(conn, entry)
            await conn.execute("UPDATE queue_entries SET callback = TRUE WHERE call_id = $1", entry.call_id)
        self._qevent(entry.call_id, entry.queue, K.CALLBACK, position=position, wait=self._waited(entry))

    def _caller_left(self, entry: QueueEntry) -> None:
        if entry.state is EntryState.DONE:
            return
        if entry.offer_task is not None and not entry.offer_task.done():
            entry.offer_task.cancel()  # stops ringing; the row decides what the hang-up means
        self._spawn(self._leave(entry), f"leave-{entry.call_id}")

    async def _leave(self, entry: QueueEntry) -> None:
        now = self.clock.now()
        box = self.box()
        events: list[tuple[K, str, dict[str, Any]]] = []
        rnd: Round | None = None
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT state, seat_id FROM queue_entries WHERE call_id = $1 FOR UPDATE", entry.call_id
            )
            if row is None:
                self._finish(entry, CallerHangup())
                return
            if row[0] == "connected":
                if await self._end_call(conn, entry, "caller", box, events):
                    rnd = await self._decide(conn, box)
            else:
                position = await self._position(conn, entry) if row[0] == "waiting" else 1
                if row[0] == "ringing":
                    seat = await box.load(conn, row[1])
                    if seat is not None and seat.state is SeatState.RINGING and seat.call_id == entry.call_id:
                        seat.ring_failed(now, False, self.queues[entry.queue].max_no_answer)
                        await save_seat(conn, seat)
                    events.append((K.RINGCANCELED, row[1], {}))
                await conn.execute("DELETE FROM queue_entries WHERE call_id = $1", entry.call_id)
                events.append((K.ABANDON, "", {"position": position, "wait": now - entry.entered_at}))
                if row[0] == "ringing":
                    rnd = await self._decide(conn, box)
        self._emit_seats(box, decided=rnd is not None)
        for kind, seat_id, data in events:
            self._qevent(entry.call_id, entry.queue, kind, seat_id, **data)
        self._after_end(entry)
        if rnd is not None:
            self._offered(rnd)

    def call_ended(self, call_id: str, by: Literal["caller", "operator"]) -> bool:
        """The bridged call ended (this node bridged it). False for a call not connected here."""
        entry = self._entries.get(call_id)
        if entry is None or entry.state is not EntryState.CONNECTED or entry.seat_id is None:
            return False
        self._spawn(self._hang_up_when_reachable(entry, by), f"end-{call_id}")
        return True

    async def _hang_up_when_reachable(self, entry: QueueEntry, by: Literal["caller", "operator"]) -> None:
        """A call that ends while the database is away ends in the rows once it is back (its
        seat shows talking until then); the transaction checks the seat still holds this call,
        so a retry never ends it twice. Past the node's lease, another node's sweep frees the
        seat first and this simply finds nothing left to end."""
        for attempt in range(3600):  # bounded: an hour of one try a second
            try:
                await self._hang_up(entry, by)
                return
            except ERRORS as exc:
                if attempt == 0:
                    log.warning(
                        "call %s ended; the shared queue is unreachable (%s): retrying", entry.call_id, exc
                    )
                await asyncio.sleep(1.0)

    async def _hang_up(self, entry: QueueEntry, by: Literal["caller", "operator"]) -> None:
        box = self.box()
        events: list[tuple[K, str, dict[str, Any]]] = []
        rnd: Round | None = None
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.fetchrow("SELECT 1 FROM queue_entries WHERE call_id = $1 FOR UPDATE", entry.call_id)
            if await self._end_call(conn, entry, by, box, events):
                rnd = await self._decide(conn, box)  # the freed seat takes the next caller now
        self._emit_seats(box, decided=rnd is not None)
        for kind, seat_id, data in events:
            self._qevent(entry.call_id, entry.queue, kind, seat_id, **data)
        self._after_end(entry)
        if rnd is not None:
            self._offered(rnd)

    async def _end_call(
        self,
        conn: Conn,
        entry: QueueEntry,
        by: Literal["caller", "operator"],
        box: SeatBox,
        events: list[tuple[K, str, dict[str, Any]]],
    ) -> bool:
        """Ends the connected call in the open transaction; True when its seat is ready now."""
        now = self.clock.now()
        freed = False
        seat_id = entry.seat_id or ""
        seat = await box.load(conn, seat_id)
        talk = now - entry.connected_at
        wrapup = self._wrapup_seconds(seat_id, entry.queue)
        if seat is not None and seat.state is SeatState.TALKING and seat.call_id == entry.call_id:
            self._talk[entry.call_id] = (entry.queue, talk)
            seat.hung_up(now, wrapup > 0)
            await save_seat(conn, seat, now + wrapup)
            freed = is_ready(seat)
        await conn.execute("DELETE FROM queue_entries WHERE call_id = $1", entry.call_id)
        kind = K.COMPLETEAGENT if by == "operator" else K.COMPLETECALLER
        events.append((kind, seat_id, {"wait": entry.connected_at - entry.entered_at, "talk": talk}))
        outcome: Literal["operator_hangup", "completed"] = (
            "operator_hangup" if by == "operator" else "completed"
        )
        self._results[entry.call_id] = QueueResult(
            outcome, entry.ticket_id, seat_id, entry.connected_at - entry.entered_at
        )
        return freed

    def _after_end(self, entry: QueueEntry) -> None:
        result = self._results.pop(entry.call_id, None)
        seat_id = entry.seat_id or ""
        if result is not None and seat_id:
            wrapup = self._wrapup_seconds(seat_id, entry.queue)
            if wrapup > 0:
                self._spawn(self._wrapup_timer(seat_id, entry.call_id, wrapup), f"wrapup-{seat_id}")
        self._finish(entry, result if result is not None else CallerHangup())

    def _wrapup_seconds(self, seat_id: str, queue: str) -> float:
        cfg = self.seat_settings.get(seat_id)
        if cfg is not None and cfg.wrapup_seconds is not None:
            return cfg.wrapup_seconds
        return self.queues[queue].wrapup_seconds

    # --- offers --------------------------------------------------------------------------
    def _offer_here(self, call_id: str, seat_id: str, attempt: int) -> None:
        entry = self._entries.get(call_id)
        if entry is None or entry.state is EntryState.DONE:
            # the caller left before the offer arrived: the row is theirs to settle
            self._spawn(
                self._ring_ended(None, call_id, seat_id, "caller_gone", self.clock.now(), attempt), "gone"
            )
            return
        entry.state = EntryState.RINGING
        entry.seat_id = seat_id
        entry.attempts = attempt
        if entry.timer_task is not None:
            entry.timer_task.cancel()
        entry.offer_task = self._spawn(self._offer(entry, seat_id, attempt), f"offer-{call_id}-{seat_id}")

    async def _offer(self, entry: QueueEntry, seat_id: str, attempt: int) -> None:
        q = self.queues[entry.queue]
        started = self.clock.now()
        offer = Offer(
            entry.context,
            entry.queue,
            seat_id,
            self.seat_settings[seat_id].uri,
            priority=entry.priority,
            ticket_id=entry.ticket_id or "",
            attempt=attempt,
            waited=round(started - entry.entered_at, 1),
            callback=entry.callback,
        )
        if self._pop is not None:
            try:  # the pop must not hold the caller: a slow store or bus is logged and skipped
                entry.ticket_id = await asyncio.wait_for(self._pop.offer(offer), 2.0) or entry.ticket_id
                offer = replace(offer, ticket_id=entry.ticket_id or "")
            except Exception:
                log.exception("screen pop for %s to seat %s failed", entry.call_id, seat_id)
        outcome: RingOutcome = "no_answer"
        ring = asyncio.ensure_future(self._line.ring(offer, q.ring_timeout))
        try:
            await first(ring, self.clock.sleep(q.ring_timeout + 5.0))
        finally:
            if not ring.done():
                ring.cancel()
        if ring.done() and not ring.cancelled():
            if ring.exception() is not None:
                log.error("ring seat %s failed", seat_id, exc_info=ring.exception())
                outcome = "failed"
            else:
                outcome = ring.result()
        # the outcome is committed even if the caller hangs up meanwhile (_leave then sees it)
        await asyncio.shield(self._ring_ended(entry, entry.call_id, seat_id, outcome, started, attempt))

    async def _ring_ended(
        self,
        entry: QueueEntry | None,
        call_id: str,
        seat_id: str,
        outcome: RingOutcome,
        started: float,
        attempt: int,
    ) -> None:
        if outcome == "caller_gone" and entry is not None:
            self._caller_left(entry)
            return
        now = self.clock.now()
        box = self.box()
        order, answered = 0, False
        rnd: Round | None = None
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT state, seat_id, queue, entered_at FROM queue_entries WHERE call_id = $1 FOR UPDATE",
                call_id,
            )
            if row is None or row[0] != "ringing" or row[1] != seat_id:
                return
            q = self.queues[row[2]]
            seat = await box.load(conn, seat_id)
            if outcome == "caller_gone":  # an offer for a caller this node no longer holds
                if seat is not None and seat.state is SeatState.RINGING and seat.call_id == call_id:
                    seat.ring_failed(now, False, q.max_no_answer)
                    await save_seat(conn, seat)
                await conn.execute("DELETE FROM queue_entries WHERE call_id = $1", call_id)
                rnd = await self._decide(conn, box)
            elif outcome == "answered" and seat is not None and seat.state is SeatState.RINGING:
                seat.answered(now)
                await save_seat(conn, seat)
                await conn.execute(
                    "UPDATE queue_entries SET state = 'connected', connected_at = $2 WHERE call_id = $1",
                    call_id,
                    now,
                )
                answered = True
            else:
                if seat is not None and seat.state is SeatState.RINGING and seat.call_id == call_id:
                    seat.ring_failed(now, True, q.max_no_answer)
                    await save_seat(conn, seat)
                order = await conn.fetchval(
                    "UPDATE queue_entries SET state = 'waiting', seat_id = '', ord = -nextval('queue_order'),"
                    " declined = array_append(declined, $2) WHERE call_id = $1 RETURNING ord",
                    call_id,
                    seat_id,
                )
                rnd = await self._decide(conn, box)  # the caller, at the front, may ring elsewhere now
        self._emit_seats(box, decided=rnd is not None)
        if outcome == "caller_gone" or entry is None:
            if outcome == "caller_gone":
                self._qevent(call_id, row[2], K.RINGCANCELED, seat_id)
                self._qevent(call_id, row[2], K.ABANDON, position=1, wait=now - row[3])
            if rnd is not None:
                self._offered(rnd)
            return
        if answered:
            self._qevent(call_id, q.name, K.CONNECT, seat_id, wait=now - entry.entered_at, ring=now - started)
            if entry.attempts == attempt:
                entry.state = EntryState.CONNECTED
                entry.connected_at = now
                if entry.announce_task is not None:
                    entry.announce_task.cancel()
                if entry.line is not None:
                    self._spawn(entry.line.stop_hold_music(), f"hold-off-{call_id}")
            return
        self._qevent(call_id, q.name, K.RINGNOANSWER, seat_id, outcome=outcome, ring=now - started)
        entry.declined.add(seat_id)
        if entry.attempts == attempt and entry.state is EntryState.RINGING:
            entry.state = EntryState.WAITING
            entry.seat_id = None
            entry.order = order
            entry.next_announce = max(entry.next_announce, now + q.announce_every / 2)
            self._start_timers(entry)
        if rnd is not None:
            self._offered(rnd)  # after the bookkeeping above: it may ring this caller again
