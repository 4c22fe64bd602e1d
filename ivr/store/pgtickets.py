"""Tickets (工单) and their full change history, in PostgreSQL shared by several nodes.

Nothing about a ticket lives in one process's memory: daily numbers come from a row of
`ticket_days` (an upsert that locks it), and an update locks the ticket's row (SELECT ... FOR
UPDATE) for its read-modify-write, so two nodes editing one ticket never lose a change."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import asyncpg

from ivr.records import Ticket, TicketChange, TicketQuery
from ivr.store.base import Also, Outgoing, StoreError, TicketTally
from ivr.store.figures import EventCounts, counts_of, event_counts_sql, survey_counts_sql
from ivr.store.followups import open_task_row
from ivr.store.rows import (
    HISTORY_COLUMNS,
    HISTORY_WRITTEN,
    TICKET_COLUMNS,
    change_from_row,
    changed_ticket,
    changes_json,
    check_event,
    check_fields,
    column_value,
    format_ticket_id,
    new_ticket,
    search_where,
    ticket_from_row,
    ticket_params,
)
from ivr.store.writer import BatchWriter, Statement

_INSERT = "INSERT INTO tickets ({}) VALUES ({})".format(
    ", ".join(TICKET_COLUMNS), ", ".join(f"${i + 1}" for i in range(len(TICKET_COLUMNS)))
)
_HISTORY = f"INSERT INTO ticket_history ({HISTORY_WRITTEN}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
_SELECT = f"SELECT {', '.join(TICKET_COLUMNS)} FROM tickets"
_NEXT = (
    "INSERT INTO ticket_days (day, seq) VALUES ($1, 1)"
    " ON CONFLICT (day) DO UPDATE SET seq = ticket_days.seq + 1 RETURNING seq"
)
OutboxRows = Callable[[Sequence[Outgoing], float], list[Statement]]


class PgTicketBook:
    def __init__(
        self,
        pool: asyncpg.Pool,
        writer: BatchWriter,
        now: Callable[[], float],
        outbox_rows: OutboxRows,
        on_also: Callable[[], None] = lambda: None,
    ) -> None:
        self._pool = pool
        self._writer = writer
        self._now = now
        self._outbox_rows = outbox_rows  # the rows and the NOTIFY that wakes every node's sender
        self._on_also = on_also

    async def new_id(self) -> str:
        """The next number of the local day, committed at once: a failed insert leaves a gap,
        never a duplicate."""
        day = time.strftime("%Y%m%d", time.localtime(self._now()))
        seq = await self._pool.fetchval(_NEXT, day)
        return format_ticket_id(day, int(seq))

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
        ticket, created = new_ticket(ticket_id or await self.new_id(), caller, channel, now, values)
        extra = also(ticket) if also is not None else ()
        await self._writer.write(
            [
                (_INSERT, ticket_params(ticket)),
                (
                    _HISTORY,
                    (ticket.id, now, actor, changes_json(created), "", "", ticket.unit, ticket.due_at),
                ),
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
        extra: Sequence[Outgoing] = ()
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(f"{_SELECT} WHERE id = $1 FOR UPDATE", ticket_id)
            if row is None:
                raise StoreError(f"no ticket {ticket_id!r}")
            old = ticket_from_row(row)
            now = self._now()
            new, diff = changed_ticket(old, changes, now, touched=bool(event))
            if not diff and not event:
                return old
            cols = [*diff, "updated_at"]
            sets = ", ".join(f"{c} = ${i + 1}" for i, c in enumerate(cols))
            params = [column_value(k, v) for k, (_, v) in diff.items()]
            await conn.execute(
                f"UPDATE tickets SET {sets} WHERE id = ${len(cols) + 1}", *params, now, ticket_id
            )
            await conn.execute(
                _HISTORY, ticket_id, now, actor, changes_json(diff), event, note, new.unit, new.due_at
            )
            extra = also(new) if also is not None else ()
            for sql, args in self._outbox_rows(extra, now):
                await conn.execute(sql, *args)
            if followup_at is not None:
                sql, args = open_task_row(new.id, new.caller, followup_at, now, "$")
                await conn.execute(sql, *args)
        if extra:
            self._on_also()
        return new

    async def set_survey(self, ticket_id: str, answers: Mapping[str, Any], *, actor: str = "ivr") -> Ticket:
        old = await self.get(ticket_id)
        if old is None:
            raise StoreError(f"no ticket {ticket_id!r}")
        return await self.update(ticket_id, {"survey": {**old.survey, **answers}}, actor=actor)

    async def get(self, ticket_id: str) -> Ticket | None:
        row = await self._pool.fetchrow(f"{_SELECT} WHERE id = $1", ticket_id)
        return ticket_from_row(row) if row is not None else None

    async def by_caller(self, caller: str, limit: int = 5, exclude: str = "") -> list[Ticket]:
        sql = (
            f"{_SELECT} WHERE caller = $1 AND id != $2 AND status != 'draft'"
            " ORDER BY created_at DESC LIMIT $3"
        )
        return [ticket_from_row(r) for r in await self._pool.fetch(sql, caller, exclude, limit)]

    async def since(self, at: float, limit: int = 5000) -> list[Ticket]:
        sql = f"{_SELECT} WHERE created_at >= $1 ORDER BY created_at DESC LIMIT $2"
        return [ticket_from_row(r) for r in reversed(await self._pool.fetch(sql, at, limit))]

    async def history(self, ticket_id: str) -> list[TicketChange]:
        sql = f"SELECT {HISTORY_COLUMNS} FROM ticket_history WHERE ticket_id = $1 ORDER BY id"
        return [change_from_row(r) for r in await self._pool.fetch(sql, ticket_id)]

    async def events(self, since: float, until: float) -> list[TicketChange]:
        sql = (
            f"SELECT {HISTORY_COLUMNS} FROM ticket_history"
            f" WHERE event != '' AND at >= $1 AND at < $2 ORDER BY id"
        )
        return [change_from_row(r) for r in await self._pool.fetch(sql, since, until)]

    async def events_after(self, last_id: int, limit: int = 100) -> list[tuple[int, TicketChange]]:
        sql = (
            f"SELECT id, {HISTORY_COLUMNS} FROM ticket_history"
            " WHERE event != '' AND id > $1 ORDER BY id LIMIT $2"
        )
        return [
            (int(r[0]), change_from_row(tuple(r)[1:])) for r in await self._pool.fetch(sql, last_id, limit)
        ]

    async def cursor(self, name: str) -> int:
        got = await self._pool.fetchval("SELECT last_id FROM webhook_cursors WHERE url = $1", name)
        return int(got or 0)

    async def set_cursor(self, name: str, last_id: int) -> None:
        sql = (
            "INSERT INTO webhook_cursors (url, last_id, updated_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (url) DO UPDATE SET last_id = excluded.last_id, updated_at = excluded.updated_at"
        )
        await self._writer.write([(sql, (name, last_id, self._now()))])

    async def search(self, query: TicketQuery) -> list[Ticket]:
        where, args = search_where(query, lambda n: f"${n}")
        return [ticket_from_row(r) for r in await self._pool.fetch(_SELECT + where, *args)]

    async def tally(self, survey_question: str = "satisfaction") -> TicketTally:
        total = await self._pool.fetchval("SELECT COUNT(*) FROM tickets")
        sql = (
            "SELECT category1 || '/' || category2 || '/' || category3, COUNT(*) FROM tickets"
            " WHERE category1 != '' GROUP BY 1 ORDER BY 2 DESC, 1"
        )
        categories = {str(c): int(n) for c, n in await self._pool.fetch(sql)}
        sql = (
            "SELECT survey::jsonb ->> $1 AS answer, COUNT(*) FROM tickets"
            " WHERE survey::jsonb ->> $1 IS NOT NULL GROUP BY 1 ORDER BY 1"
        )
        surveys = {str(a): int(n) for a, n in await self._pool.fetch(sql, survey_question)}
        return TicketTally(int(total or 0), categories, surveys)

    async def event_counts(self, since: float, until: float, group: str = "unit") -> list[EventCounts]:
        rows = await self._pool.fetch(event_counts_sql(group, "postgresql"), since, until)
        return counts_of(tuple(r) for r in rows)

    async def survey_counts(self, since: float, until: float) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for operator, answer, n in await self._pool.fetch(survey_counts_sql("postgresql"), since, until):
            out.setdefault(str(operator), {})[str(answer)] = int(n)
        return out
