"""Seats and figures of the shared queue: operators' commands from any node, wrap-up ends,
queues emptied when their last seat leaves, and status, positions and the waiting list counted
over every node's callers.

Every seat change is one transaction on the seat's row, decided by `agents/seat.py`'s state
machine; a seat that becomes ready takes its next caller in the same transaction."""

from __future__ import annotations

from typing import Any

from agents.acd import QueueStatus, SeatAction
from agents.lines import QueueEntry
from agents.seat import Seat, SeatError
from agents.shared.node import QueueNode
from agents.shared.rows import (
    ENTRY_COLUMNS,
    SERVICE_ORDER,
    entry_from_row,
    is_ready,
    logged_in,
    node_channel,
    save_seat,
)
from agents.waiting import announcement, estimated_wait
from ivr.records import QueueEventKind as K
from ivr.records import QueueResult, SeatState


class SeatDesk(QueueNode):
    # --- seats -------------------------------------------------------------------------
    async def seat_command(self, seat_id: str, action: SeatAction, reason: str = "") -> SeatState:
        """An operator's console request from any node; raises SeatError when it does not fit."""
        if seat_id not in self.seat_settings:
            raise SeatError(f"unknown seat {seat_id!r}")
        now = self.clock.now()
        box = self.box()
        async with self.pool.acquire() as conn, conn.transaction():
            seat = await box.load(conn, seat_id)
            assert seat is not None
            _apply(seat, action, reason, now)
            await save_seat(conn, seat)
            rnd = await self._decide(conn, box) if is_ready(seat) else None
        mirror = self.seats[seat_id]  # the console that asked reads it back at once
        mirror.state, mirror.reason, mirror.since, mirror.call_id = (
            seat.state,
            seat.reason,
            seat.since,
            seat.call_id,
        )
        self._emit_seats(box, decided=rnd is not None)
        if rnd is not None:
            self._offered(rnd)
        if seat.state is SeatState.LOGGED_OUT:
            await self._leave_empty_queues()
        return seat.state

    async def seat(self, seat_id: str) -> Seat:
        """The seat as the shared rows have it now (a copy: changing it changes nothing)."""
        box = self.box()
        async with self.pool.acquire() as conn, conn.transaction():
            seat = await box.load(conn, seat_id)
        if seat is None:
            raise SeatError(f"unknown seat {seat_id!r}")
        return seat

    async def _wrapup_timer(self, seat_id: str, call_id: str, seconds: float) -> None:
        await self.clock.sleep(seconds)
        box = self.box()
        async with self.pool.acquire() as conn, conn.transaction():
            seat = await box.load(conn, seat_id)
            if seat is None or seat.state is not SeatState.WRAP_UP or seat.call_id != call_id:
                return
            seat.end_wrapup(self.clock.now())
            await save_seat(conn, seat)
            rnd = await self._decide(conn, box) if is_ready(seat) else None
        self._emit_seats(box, decided=rnd is not None)
        if rnd is not None:
            self._offered(rnd)

    async def _leave_empty_queues(self) -> None:
        """Queues that say "leave" and have no seat logged in any more send their waiting
        callers (not callbacks) away, on whichever node holds them."""
        leaving = [q for q in self.queues.values() if q.when_no_seats == "leave"]
        if not leaving:
            return
        now = self.clock.now()
        gone: list[Any] = []
        async with self.pool.acquire() as conn, conn.transaction():
            for q in leaving:
                serving = [s for s, cfg in self.seat_settings.items() if q.name in cfg.queues]
                logged = await logged_in(conn, serving)
                if logged:
                    continue
                rows = await conn.fetch(
                    f"SELECT {ENTRY_COLUMNS} FROM queue_entries WHERE queue = $1 AND state = 'waiting'"
                    f" AND NOT callback ORDER BY {SERVICE_ORDER} FOR UPDATE",
                    q.name,
                )
                await conn.execute(
                    "DELETE FROM queue_entries WHERE call_id = ANY($1::text[])", [r[0] for r in rows]
                )
                for pos, row in enumerate(rows, 1):
                    gone.append((row, pos))
                    await conn.execute(
                        "SELECT pg_notify($1, $2)", node_channel(row[7]), f"exit {row[0]} no_agents"
                    )
        for row, pos in gone:
            self._qevent(row[0], row[1], K.EXITEMPTY, position=pos, wait=now - row[4])
            entry = self._entries.get(row[0])
            if entry is not None:
                self._finish(entry, QueueResult("no_agents", entry.ticket_id, None, self._waited(entry)))

    # --- status ----------------------------------------------------------------------------
    def status(self, queue: str) -> QueueStatus:
        """What a flow branches on and the board shows, from this node's copies of the seats and
        callers (as fresh as the last NOTIFY: milliseconds behind the rows, no round trip)."""
        q = self.queues[queue]
        waits = [at for name, state, at in self.callers.values() if name == queue and state == "waiting"]
        logged = [s.state for s in self.seats.values() if s.serves(queue) and s.logged_in]
        working = sum(1 for s in logged if s is not SeatState.NOT_READY)
        handle = self._handle.average(queue, q.default_handle_seconds)
        return QueueStatus(
            waiting=len(waits),
            ready=sum(1 for s in logged if s is SeatState.READY),
            logged_in=len(logged),
            estimated_wait=estimated_wait(len(waits) + 1, working, handle),
            longest_wait=max(0.0, self.clock.now() - min(waits)) if waits else 0.0,
        )

    async def fresh_status(self, queue: str, entry: QueueEntry | None = None) -> QueueStatus:
        """`status` read from the rows now, with `entry`'s own place for the estimate."""
        q = self.queues[queue]
        serving = [s for s, cfg in self.seat_settings.items() if queue in cfg.queues]
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT count(*), min(entered_at) FROM queue_entries WHERE queue = $1 AND state = 'waiting'",
                queue,
            )
            assert row is not None
            waiting, first = int(row[0]), row[1]
            states = await conn.fetch(
                "SELECT state FROM queue_seats WHERE seat_id = ANY($1::text[])", serving
            )
            position = await self._position(conn, entry) if entry is not None else waiting + 1
        logged = [SeatState(r[0]) for r in states if r[0] != SeatState.LOGGED_OUT.value]
        working = sum(1 for s in logged if s is not SeatState.NOT_READY)
        ewt = estimated_wait(position, working, self._handle.average(queue, q.default_handle_seconds))
        return QueueStatus(
            waiting=waiting,
            ready=sum(1 for s in logged if s is SeatState.READY),
            logged_in=len(logged),
            estimated_wait=ewt,
            longest_wait=max(0.0, self.clock.now() - first) if first is not None else 0.0,
        )

    async def waiting(self) -> list[QueueEntry]:
        """Callers waiting on every node (not ringing), in service order; no lines or contexts."""
        rows = await self.pool.fetch(
            f"SELECT {ENTRY_COLUMNS} FROM queue_entries WHERE state = 'waiting' ORDER BY {SERVICE_ORDER}"
        )
        return [entry_from_row(r) for r in rows]

    async def position(self, call_id: str) -> int:
        """1-based place among the waiting callers of the same queue on all nodes; 0 if not waiting."""
        entry = self._entries.get(call_id)
        if entry is None:
            return 0
        async with self.pool.acquire() as conn:
            return await self._position(conn, entry)

    async def _announcement(self, entry: QueueEntry) -> str:
        status = await self.fresh_status(entry.queue, entry)
        async with self.pool.acquire() as conn:
            position = await self._position(conn, entry)
        return announcement(position, status.estimated_wait)


def _apply(seat: Seat, action: SeatAction, reason: str, now: float) -> None:
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
