"""Tickets (工单) and their full change history."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import aiosqlite

from ivr.records import EDITABLE, STATUSES, URGENCIES, Ticket, TicketChange
from ivr.store.rows import TICKET_COLUMNS, StoreError, ticket_from_row, ticket_params
from ivr.store.writer import BatchWriter, Statement

_INSERT = f"INSERT INTO tickets ({', '.join(TICKET_COLUMNS)}) VALUES ({', '.join('?' * len(TICKET_COLUMNS))})"
_HISTORY = "INSERT INTO ticket_history (ticket_id, at, actor, changes) VALUES (?, ?, ?, ?)"
Also = Callable[[Ticket], Sequence[Statement]]
_SELECT = f"SELECT {', '.join(TICKET_COLUMNS)} FROM tickets"


def _check(values: Mapping[str, Any]) -> None:
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise StoreError(f"ticket fields not editable: {', '.join(sorted(unknown))}")
    if "status" in values and values["status"] not in STATUSES:
        raise StoreError(f"ticket status must be one of {STATUSES}")
    if "urgency" in values and values["urgency"] not in URGENCIES:
        raise StoreError(f"ticket urgency must be one of {URGENCIES}")


def _history(ticket_id: str, at: float, actor: str, changes: Mapping[str, tuple[Any, Any]]) -> Statement:
    return (_HISTORY, (ticket_id, at, actor, json.dumps(changes, ensure_ascii=False)))


class TicketBook:
    def __init__(
        self,
        conn: aiosqlite.Connection,
        writer: BatchWriter,
        now: Callable[[], float],
        on_also: Callable[[], None] = lambda: None,
    ) -> None:
        self._conn = conn
        self._on_also = on_also  # outbox rows were written alongside: wake the sender
        self._writer = writer
        self._now = now
        self._day = ""
        self._seq = 0
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}  # per ticket, with its user count

    async def load(self) -> None:
        """Resume today's numbering after a restart."""
        async with self._conn.execute("SELECT id FROM tickets ORDER BY id DESC LIMIT 1") as cur:
            row = await cur.fetchone()
        if row is not None and len(row[0]) == 14 and row[0].isdigit():
            self._day, self._seq = row[0][:8], int(row[0][8:])

    def new_id(self) -> str:
        """Readable over the phone: local date and a daily sequence, e.g. 20240601000123."""
        day = time.strftime("%Y%m%d", time.localtime(self._now()))
        if day != self._day:
            self._day, self._seq = day, 0
        self._seq += 1
        return f"{day}{self._seq:06d}"

    async def create(
        self,
        caller: str,
        *,
        actor: str = "ivr",
        channel: str = "phone",
        ticket_id: str | None = None,
        also: Also | None = None,
        **values: Any,
    ) -> Ticket:
        """Insert a ticket (a draft unless `status` says otherwise). The statements `also` makes
        from the new ticket commit in the same transaction (the screen pop's outbox row)."""
        _check(values)
        now = self._now()
        ticket = Ticket(
            id=ticket_id or self.new_id(), caller=caller, channel=channel, created_at=now, updated_at=now
        )
        ticket = replace(ticket, **values)
        created = {
            k: (None, v) for k, v in ticket.as_dict().items() if k in EDITABLE and v not in ("", {}, None)
        }
        extra = also(ticket) if also is not None else ()
        await self._writer.write(
            [(_INSERT, ticket_params(ticket)), _history(ticket.id, now, actor, created), *extra]
        )
        if extra:
            self._on_also()
        return ticket

    async def update(
        self, ticket_id: str, changes: Mapping[str, Any], *, actor: str, also: Also | None = None
    ) -> Ticket:
        """Apply field changes and log them; a no-op change writes nothing."""
        _check(changes)
        lock, users = self._locks.get(ticket_id, (asyncio.Lock(), 0))
        self._locks[ticket_id] = (lock, users + 1)
        try:
            async with lock:  # read-modify-write of one ticket must not interleave
                old = await self.get(ticket_id)
                if old is None:
                    raise StoreError(f"no ticket {ticket_id!r}")
                diff = {k: (getattr(old, k), v) for k, v in changes.items() if getattr(old, k) != v}
                if not diff:
                    return old
                now = self._now()
                new = replace(old, updated_at=now, **{k: v for k, (_, v) in diff.items()})
                cols = [*diff, "updated_at"]
                params = [
                    json.dumps(v, ensure_ascii=False) if k in ("survey", "context") else v
                    for k, (_, v) in diff.items()
                ]
                sql = f"UPDATE tickets SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?"
                extra = also(new) if also is not None else ()
                await self._writer.write(
                    [(sql, (*params, now, ticket_id)), _history(ticket_id, now, actor, diff), *extra]
                )
                if extra:
                    self._on_also()
                return new
        finally:
            lock, users = self._locks[ticket_id]
            if users <= 1:
                del self._locks[ticket_id]
            else:
                self._locks[ticket_id] = (lock, users - 1)

    async def set_survey(self, ticket_id: str, answers: Mapping[str, Any], *, actor: str = "ivr") -> Ticket:
        old = await self.get(ticket_id)
        if old is None:
            raise StoreError(f"no ticket {ticket_id!r}")
        return await self.update(ticket_id, {"survey": {**old.survey, **answers}}, actor=actor)

    async def get(self, ticket_id: str) -> Ticket | None:
        async with self._conn.execute(f"{_SELECT} WHERE id = ?", (ticket_id,)) as cur:
            row = await cur.fetchone()
        return ticket_from_row(row) if row is not None else None

    async def by_caller(self, caller: str, limit: int = 5, exclude: str = "") -> list[Ticket]:
        """The caller's latest tickets, newest first (drafts of abandoned calls left out)."""
        sql = f"{_SELECT} WHERE caller = ? AND id != ? AND status != 'draft' ORDER BY created_at DESC LIMIT ?"
        async with self._conn.execute(sql, (caller, exclude, limit)) as cur:
            rows = await cur.fetchall()
        return [ticket_from_row(r) for r in rows]

    async def history(self, ticket_id: str) -> list[TicketChange]:
        sql = "SELECT ticket_id, at, actor, changes FROM ticket_history WHERE ticket_id = ? ORDER BY id"
        async with self._conn.execute(sql, (ticket_id,)) as cur:
            rows = await cur.fetchall()
        return [
            TicketChange(r[0], r[1], r[2], {k: (v[0], v[1]) for k, v in json.loads(r[3]).items()})
            for r in rows
        ]
