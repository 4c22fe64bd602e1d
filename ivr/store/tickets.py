"""Tickets (工单) and their full change history, in SQLite."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiosqlite

from ivr.records import Ticket, TicketChange, TicketQuery
from ivr.store.base import Also, Outgoing, StoreError, TicketTally
from ivr.store.figures import EventCounts, counts_of, event_counts_sql, survey_counts_sql
from ivr.store.followups import open_task_row
from ivr.store.rows import (
    HISTORY_COLUMNS,
    HISTORY_WRITTEN,
    TICKET_COLUMNS,
    Changes,
    change_from_row,
    changed_ticket,
    changes_json,
    check_event,
    check_fields,
    column_value,
    format_ticket_id,
    new_ticket,
    search_where,
    ticket_day_sequence,
    ticket_from_row,
    ticket_params,
)
from ivr.store.writer import BatchWriter, Statement

_INSERT = f"INSERT INTO tickets ({', '.join(TICKET_COLUMNS)}) VALUES ({', '.join('?' * len(TICKET_COLUMNS))})"
_HISTORY = f"INSERT INTO ticket_history ({HISTORY_WRITTEN}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_SELECT = f"SELECT {', '.join(TICKET_COLUMNS)} FROM tickets"
OutboxRows = Callable[[Sequence[Outgoing], float], list[Statement]]


def _history(
    ticket: Ticket, at: float, actor: str, changes: Changes, event: str = "", note: str = ""
) -> Statement:
    values = (ticket.id, at, actor, changes_json(changes), event, note, ticket.unit, ticket.due_at)
    return (_HISTORY, values)


class SqliteTicketBook:
    """One process owns the file, so ids and per-ticket locks can live in memory."""

    def __init__(
        self,
        conn: aiosqlite.Connection,
        writer: BatchWriter,
        now: Callable[[], float],
        outbox_rows: OutboxRows,
        on_also: Callable[[], None] = lambda: None,
    ) -> None:
        self._conn = conn
        self._outbox_rows = outbox_rows
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
        parsed = ticket_day_sequence(row[0]) if row is not None else None
        if parsed is not None:
            self._day, self._seq = parsed

    def new_id(self) -> str:
        day = time.strftime("%Y%m%d", time.localtime(self._now()))
        if day != self._day:
            self._day, self._seq = day, 0
        self._seq += 1
        return format_ticket_id(day, self._seq)

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
        check_fields(values)  # before taking a number
        now = self._now()
        ticket, created = new_ticket(ticket_id or self.new_id(), caller, channel, now, values)
        extra = also(ticket) if also is not None else ()
        await self._writer.write(
            [
                (_INSERT, ticket_params(ticket)),
                _history(ticket, now, actor, created),
                *self._outbox_rows(extra, now),
            ]
        )
        if extra:
            self._on_also()
        return ticket

    async def update(
        self,
        ticket_id: str,
        changes: Mapping[str, Any],
        *,
        actor: str,
        also: Also | None = None,
        event: str = "",
        note: str = "",
        followup_at: float | None = None,
    ) -> Ticket:
        check_fields(changes)
        check_event(event)
        lock, users = self._locks.get(ticket_id, (asyncio.Lock(), 0))
        self._locks[ticket_id] = (lock, users + 1)
        try:
            async with lock:  # read-modify-write of one ticket must not interleave
                old = await self.get(ticket_id)
                if old is None:
                    raise StoreError(f"no ticket {ticket_id!r}")
                now = self._now()
                new, diff = changed_ticket(old, changes, now, touched=bool(event))
                if not diff and not event:
                    return old
                cols = [*diff, "updated_at"]
                params = [column_value(k, v) for k, (_, v) in diff.items()]
                sql = f"UPDATE tickets SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?"
                extra = also(new) if also is not None else ()
                await self._writer.write(
                    [
                        (sql, (*params, now, ticket_id)),
                        _history(new, now, actor, diff, event, note),
                        *self._outbox_rows(extra, now),
                        *self._followup_rows(new, followup_at, now),
                    ]
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

    @staticmethod
    def _followup_rows(ticket: Ticket, due_at: float | None, now: float) -> list[Statement]:
        return [] if due_at is None else [open_task_row(ticket.id, ticket.caller, due_at, now, "?")]

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
        sql = f"{_SELECT} WHERE caller = ? AND id != ? AND status != 'draft' ORDER BY created_at DESC LIMIT ?"
        async with self._conn.execute(sql, (caller, exclude, limit)) as cur:
            rows = await cur.fetchall()
        return [ticket_from_row(r) for r in rows]

    async def since(self, at: float, limit: int = 5000) -> list[Ticket]:
        sql = f"{_SELECT} WHERE created_at >= ? ORDER BY created_at DESC LIMIT ?"
        async with self._conn.execute(sql, (at, limit)) as cur:
            rows = await cur.fetchall()
        return [ticket_from_row(r) for r in reversed(list(rows))]

    async def history(self, ticket_id: str) -> list[TicketChange]:
        sql = f"SELECT {HISTORY_COLUMNS} FROM ticket_history WHERE ticket_id = ? ORDER BY id"
        async with self._conn.execute(sql, (ticket_id,)) as cur:
            rows = await cur.fetchall()
        return [change_from_row(r) for r in rows]

    async def events(self, since: float, until: float) -> list[TicketChange]:
        sql = (
            f"SELECT {HISTORY_COLUMNS} FROM ticket_history"
            f" WHERE event != '' AND at >= ? AND at < ? ORDER BY id"
        )
        async with self._conn.execute(sql, (since, until)) as cur:
            rows = await cur.fetchall()
        return [change_from_row(r) for r in rows]

    async def events_after(self, last_id: int, limit: int = 100) -> list[tuple[int, TicketChange]]:
        sql = (
            f"SELECT id, {HISTORY_COLUMNS} FROM ticket_history"
            " WHERE event != '' AND id > ? ORDER BY id LIMIT ?"
        )
        async with self._conn.execute(sql, (last_id, limit)) as cur:
            rows = await cur.fetchall()
        return [(int(r[0]), change_from_row(r[1:])) for r in rows]

    async def cursor(self, name: str) -> int:
        async with self._conn.execute("SELECT last_id FROM webhook_cursors WHERE url = ?", (name,)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def set_cursor(self, name: str, last_id: int) -> None:
        sql = (
            "INSERT INTO webhook_cursors (url, last_id, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (url) DO UPDATE SET last_id = excluded.last_id, updated_at = excluded.updated_at"
        )
        await self._writer.write([(sql, (name, last_id, self._now()))])

    async def search(self, query: TicketQuery) -> list[Ticket]:
        where, args = search_where(query, lambda n: f"?{n}")
        async with self._conn.execute(_SELECT + where, args) as cur:
            rows = await cur.fetchall()
        return [ticket_from_row(r) for r in rows]

    async def tally(self, survey_question: str = "satisfaction") -> TicketTally:
        async with self._conn.execute("SELECT COUNT(*) FROM tickets") as cur:
            total = await cur.fetchone()
        sql = (
            "SELECT category1 || '/' || category2 || '/' || category3, COUNT(*) FROM tickets"
            " WHERE category1 != '' GROUP BY 1 ORDER BY 2 DESC, 1"
        )
        async with self._conn.execute(sql) as cur:
            categories = {str(c): int(n) for c, n in await cur.fetchall()}
        sql = (
            "SELECT json_extract(survey, '$.' || ?) AS answer, COUNT(*) FROM tickets"
            " WHERE answer IS NOT NULL GROUP BY 1 ORDER BY 1"
        )
        async with self._conn.execute(sql, (f'"{survey_question}"',)) as cur:
            surveys = {str(a): int(n) for a, n in await cur.fetchall()}
        return TicketTally(int(total[0]) if total else 0, categories, surveys)

    async def event_counts(self, since: float, until: float, group: str = "unit") -> list[EventCounts]:
        async with self._conn.execute(event_counts_sql(group, "sqlite"), (since, until)) as cur:
            return counts_of(await cur.fetchall())

    async def survey_counts(self, since: float, until: float) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        async with self._conn.execute(survey_counts_sql("sqlite"), (since, until)) as cur:
            for operator, answer, n in await cur.fetchall():
                out.setdefault(str(operator), {})[str(answer)] = int(n)
        return out
