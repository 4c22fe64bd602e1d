"""The shared queue's node: its connections, wake-ups, seat commands, status and match rounds
(acd.py adds the callers' side; its docstring has the design).

Wake-ups: a change that frees a seat or adds a caller runs its match round in its own
transaction (`_decide`); the rest (a dead node's seats freed, a skill widening, a claim that
failed) kicks a coalesced round here, and other nodes through NOTIFY `hotline_queue`. Offers for
this node's callers arrive on its own channel; seat rows arrive on `hotline_seats` for `seats`.

Concurrency contract: the methods run on one event loop. Local bookkeeping of an entry follows
its row (the row is the truth; an offer message carries the attempt number, so a late local
update never overrides a newer offer). Events are emitted after their transaction commits.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine, Iterable, Mapping
from typing import Any

import asyncpg

from agents.clock import Clock, RealClock
from agents.eventlog import EventLog
from agents.lines import EntryState, QueueEntry, ScreenPop, SeatLine
from agents.seat import Seat
from agents.shared.leases import Lost, renew
from agents.shared.matching import Round, decide, match_round
from agents.shared.rows import (
    ENTRY_CHANNEL,
    KICK_CHANNEL,
    SEAT_CHANNEL,
    SEAT_COLUMNS,
    Conn,
    SeatBox,
    copy_row,
    node_channel,
    seed_seats,
)
from agents.strategy import Chooser
from agents.waiting import HandleTimes
from ivr.config import STRATEGIES, QueueSettings, SeatSettings
from ivr.records import EventSink, QueueEvent, QueueResult, SeatEvent, SeatState
from ivr.records import QueueEventKind as K
from ivr.store import TicketBook
from ivr.store.pgschema import migrate

log = logging.getLogger(__name__)

JOIN_LOCK = 0x12348  # pg_advisory_xact_lock(JOIN_LOCK, hashtext(queue)): queue limits are exact
ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class QueueNode:
    """`Acd`'s surface for a centre whose nodes share one PostgreSQL database (`url`); `node`
    names this process (unique in the centre). Seat commands and status are coroutines here:
    they read and write the shared rows."""

    def __init__(
        self,
        url: str,
        node: str,
        queues: Mapping[str, QueueSettings],
        seats: Iterable[SeatSettings],
        line: SeatLine,
        *,
        clock: Clock | None = None,
        events: EventSink | None = None,
        screen_pop: ScreenPop | None = None,
        tickets: TicketBook | None = None,
        lease_seconds: float = 15.0,
    ) -> None:
        for q in queues.values():
            if q.strategy not in STRATEGIES:
                raise ValueError(f"queue {q.name}: unknown strategy {q.strategy!r}; known: {STRATEGIES}")
        self.url = url
        self.node = node
        self.queues = dict(queues)
        self.seat_settings = {s.id: s for s in seats}
        self._order = {sid: i for i, sid in enumerate(self.seat_settings)}
        self.clock: Clock = clock or RealClock()
        self.events: EventSink = events if events is not None else EventLog()
        self._line = line
        self._pop = screen_pop
        self._tickets = tickets
        self.lease_seconds = lease_seconds
        self._entries: dict[str, QueueEntry] = {}  # this node's callers not yet DONE
        self._chooser = Chooser()
        self._handle = HandleTimes()
        self._talk: dict[str, tuple[str, float]] = {}  # call id -> (queue, talk) until wrap-up ends
        self._tasks: set[asyncio.Task[Any]] = set()
        self._kicked = False
        self._matcher: asyncio.Task[None] | None = None
        self._pool: asyncpg.Pool | None = None
        self._listener: asyncpg.Connection | None = None
        self._stopping = False
        # every seat as the shared rows last said (any node's change arrives by NOTIFY): what
        # consoles and boards read; decisions always read the rows themselves
        self.seats: dict[str, Seat] = {
            sid: Seat(cfg, self._order[sid], _ignore) for sid, cfg in self.seat_settings.items()
        }
        # every node's callers as the rows last said: call id -> (queue, state, entered_at)
        self.callers: dict[str, tuple[str, str, float]] = {}
        self._results: dict[str, QueueResult] = {}  # how a call that just ended leaves enqueue
        self.lost: list[Lost] = []  # callers this node turned into callback tickets (for reports)

    # --- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Connect, migrate, add rows for new seats, take the lease and listen."""
        self._pool = await asyncpg.create_pool(self.url, min_size=1, max_size=4)
        async with self._pool.acquire() as conn:
            await migrate(conn)
            await seed_seats(conn, list(self.seat_settings))
            await renew(conn, self.node, self.clock.now() + self.lease_seconds)
        await self._listen()
        self._kick()

    async def _listen(self) -> None:
        """(Re)open the listening connection, then load the seats (so no change falls between)."""
        listener = await asyncpg.connect(self.url)
        await listener.add_listener(SEAT_CHANNEL, self._on_seat)
        await listener.add_listener(ENTRY_CHANNEL, self._on_entry)
        await listener.add_listener(KICK_CHANNEL, self._on_kick)
        await listener.add_listener(node_channel(self.node), self._on_node)
        listener.add_termination_listener(self._listener_lost)
        self._listener = listener
        for row in await self.pool.fetch(f"SELECT {SEAT_COLUMNS} FROM queue_seats"):
            if row["seat_id"] in self.seats:
                copy_row(self.seats[row["seat_id"]], dict(row.items()))
        rows = await self.pool.fetch("SELECT call_id, queue, state, entered_at FROM queue_entries")
        self.callers = {r[0]: (r[1], r[2], r[3]) for r in rows}

    def _listener_lost(self, conn: object) -> None:
        if self._stopping:
            return
        # offers for our callers go unheard until it is back; a sweep takes back the ones missed
        log.error("shared queue node %s: the listening connection was lost", self.node)
        self._spawn(self._listen_again(), f"relisten-{self.node}")

    async def _listen_again(self) -> None:
        delay = 0.2
        for _ in range(100_000):  # until back or stopped, one try every 5 s at most
            if self._stopping:
                return
            try:
                await self._listen()
            except ERRORS as exc:
                log.warning("shared queue node %s: listening again failed: %s", self.node, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            log.info("shared queue node %s: listening again", self.node)
            self._kick()
            return

    async def stop(self, *, release: bool = True) -> None:
        """Ends every local wait with "error". With `release` the lease ends now, so another
        node sweeps what is left of ours at once (False leaves it to expire, as a crash would)."""
        self._stopping = True
        for entry in list(self._entries.values()):
            self._finish(entry, QueueResult("error", entry.ticket_id, entry.seat_id, self._waited(entry)))
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._listener is not None:
            await self._listener.close()
        if self._pool is not None:
            if release:
                async with self._pool.acquire() as conn:
                    await renew(conn, self.node, 0.0)
                await self._pool.execute(f"NOTIFY {KICK_CHANNEL}")
            await self._pool.close()

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("shared ACD task %s failed", task.get_name(), exc_info=task.exception())

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "SharedAcd.start() first"
        return self._pool

    def box(self) -> SeatBox:
        return SeatBox(self.seat_settings, self._order)

    def _emit_seats(self, box: SeatBox, *, decided: bool = False) -> None:
        """Emit the committed seat changes; a seat left ready (no caller it could take when it
        became ready, or changed outside a round) gets another round here."""
        last = {e.seat_id: e.state for e in box.events}
        if not decided and any(state is SeatState.READY for state in last.values()):
            self._kick()
        for event in box.events:
            if event.previous is SeatState.WRAP_UP:
                queue, talk = self._talk.pop(event.call_id, ("", 0.0))
                if queue:
                    self._handle.add(queue, talk + event.duration)
            self.events.seat_event(event)
        box.events.clear()

    # --- matching --------------------------------------------------------------------------
    def _on_seat(self, conn: object, pid: int, channel: str, payload: object) -> None:
        row = json.loads(str(payload))
        seat = self.seats.get(row["seat_id"])
        if seat is not None:
            copy_row(seat, row)

    def _on_entry(self, conn: object, pid: int, channel: str, payload: object) -> None:
        row = json.loads(str(payload))
        if "queue" in row:
            self.callers[row["call_id"]] = (row["queue"], row["state"], row["entered_at"])
        else:
            self.callers.pop(row["call_id"], None)

    def _on_kick(self, conn: object, pid: int, channel: str, payload: object) -> None:
        self._kick()

    def _on_node(self, conn: object, pid: int, channel: str, payload: object) -> None:
        words = str(payload).split(" ")
        if words[0] == "offer" and len(words) == 4:
            self._offer_here(words[1], words[2], int(words[3]))
        elif words[0] == "exit" and len(words) == 3:
            entry = self._entries.get(words[1])
            if entry is not None and entry.state is EntryState.WAITING:
                self._finish(entry, QueueResult("no_agents", entry.ticket_id, None, self._waited(entry)))

    def _kick(self) -> None:
        """One match round soon; kicks while a round runs make one more round, not one each."""
        self._kicked = True
        if self._pool is not None and (self._matcher is None or self._matcher.done()):
            self._matcher = self._spawn(self._match_loop(), f"match-{self.node}")

    async def _match_loop(self) -> None:
        for _ in range(10_000):  # bounded: each turn needs a kick that came during the last one
            if not self._kicked:
                return
            self._kicked = False
            box = self.box()
            try:
                async with self.pool.acquire() as conn:
                    rnd = await match_round(
                        conn, self.queues, box, self._chooser, self.clock.now(), self.node
                    )
            except ERRORS:
                log.exception("match round on %s failed; retrying", self.node)
                self._kicked = True
                await asyncio.sleep(0.2)
                continue
            self._emit_seats(box)
            self._offered(rnd)

    async def _decide(self, conn: Conn, box: SeatBox) -> Round:
        """A match round in the caller's open transaction; `_offered` once it has committed."""
        return await decide(conn, self.queues, box, self._chooser, self.clock.now(), self.node)

    def _offered(self, rnd: Round) -> None:
        """After the round's commit: its OFFER events, and this node's offers start ringing."""
        for m in rnd.matches:
            self._qevent(m.call_id, m.queue, K.OFFER, m.seat_id, attempt=m.attempt, wait=m.wait)
            if m.node == self.node:
                self._offer_here(m.call_id, m.seat_id, m.attempt)
        if rnd.missed:
            self._kick()  # a claimed caller had left: their seat is for the next one

    # --- events and local bookkeeping -------------------------------------------------------
    def _qevent(self, call_id: str, queue: str, kind: K, seat_id: str = "", **data: Any) -> None:
        self.events.queue_event(QueueEvent(self.clock.now(), call_id, queue, kind, seat_id, data))

    def _waited(self, entry: QueueEntry) -> float:
        return max(0.0, self.clock.now() - entry.entered_at)

    def _finish(self, entry: QueueEntry, result: QueueResult | BaseException) -> None:
        entry.state = EntryState.DONE
        self._entries.pop(entry.call_id, None)
        for task in (entry.timer_task, entry.announce_task, entry.offer_task):
            if task is not None and not task.done() and task is not asyncio.current_task():
                task.cancel()
        fut = entry.result
        if fut is None or fut.done():
            return
        if isinstance(result, BaseException):
            fut.set_exception(result)
        else:
            fut.set_result(result)

    async def _position(self, conn: Conn, entry: QueueEntry) -> int:
        """The entry's place in its queue over all nodes (0 once it is not waiting)."""
        if entry.state is not EntryState.WAITING:
            return 0
        n = await conn.fetchval(
            "SELECT count(*) FROM queue_entries WHERE queue = $1 AND state = 'waiting'"
            " AND (priority > $2 OR (priority = $2 AND ord <= $3))",
            entry.queue,
            entry.priority,
            entry.order,
        )
        return int(n)

    def _offer_here(self, call_id: str, seat_id: str, attempt: int) -> None:
        """Ring `seat_id` for this node's caller `call_id` (acd.py)."""
        raise NotImplementedError


def _ignore(event: SeatEvent) -> None:
    """Mirror seats never change by themselves (their rows do)."""
