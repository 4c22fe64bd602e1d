"""Follow-up (回访) tasks in the store, for SQLite and PostgreSQL alike (table `followups`).

A task moves due -> calling -> due (retry) | worklist | done. `claim` is the one move that
must not happen twice (two callers, or two nodes, taking the same task): SQLite serialises it
in this process, PostgreSQL with a conditional UPDATE."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import aiosqlite

from ivr.records import FOLLOWUP_STATES, Followup
from ivr.store.base import StoreError
from ivr.store.writer import BatchWriter

if TYPE_CHECKING:
    import asyncpg

_COLUMNS = (
    "id, ticket_id, caller, state, due_at, attempts, last_outcome, answer, operator, created_at, updated_at"
)
_MUTABLE = ("state", "due_at", "attempts", "last_outcome", "answer", "operator")


def _task(row: Any) -> Followup:
    return Followup(
        row[0], row[1], row[2], row[3], float(row[4]), int(row[5]), row[6], json.loads(row[7]), row[8],
        float(row[9]), float(row[10]),
    )  # fmt: skip


def _marks(mark: str, n: int, start: int = 1) -> list[str]:
    return [f"${i}" if mark == "$" else "?" for i in range(start, start + n)]


def _insert(t: Followup, mark: str) -> tuple[str, tuple[Any, ...]]:
    values = (
        t.id, t.ticket_id, t.caller, t.state, t.due_at, t.attempts, t.last_outcome,
        json.dumps(dict(t.answer), ensure_ascii=False), t.operator, t.created_at, t.updated_at,
    )  # fmt: skip
    return f"INSERT INTO followups ({_COLUMNS}) VALUES ({', '.join(_marks(mark, 11))})", values


def open_task_row(
    ticket_id: str, caller: str, due_at: float, now: float, mark: str
) -> tuple[str, tuple[Any, ...]]:
    """The INSERT of a ticket's next task (id "<ticket>-<n>"), a no-op while it has an open one:
    written in the transaction of the unit's reply, so a crash never keeps one without the other."""
    if mark == "$":
        sql = (
            f"INSERT INTO followups ({_COLUMNS}) SELECT $1::text || '-' || ((SELECT COUNT(*)"
            " FROM followups WHERE ticket_id = $1) + 1)::text, $1, $2::text, 'due', $3::float8, 0, '', '{}',"
            " '', $4::float8, $4::float8"
            " WHERE NOT EXISTS (SELECT 1 FROM followups WHERE ticket_id = $1 AND state != 'done')"
        )
        return sql, (ticket_id, caller, due_at, now)
    sql = (
        f"INSERT INTO followups ({_COLUMNS}) SELECT ? || '-' || ((SELECT COUNT(*) FROM followups"
        " WHERE ticket_id = ?) + 1), ?, ?, 'due', ?, 0, '', '{}', '', ?, ?"
        " WHERE NOT EXISTS (SELECT 1 FROM followups WHERE ticket_id = ? AND state != 'done')"
    )
    return sql, (ticket_id, ticket_id, ticket_id, caller, due_at, now, now, ticket_id)


def _update(t: Followup, mark: str) -> tuple[str, tuple[Any, ...]]:
    if t.state not in FOLLOWUP_STATES:
        raise StoreError(f"follow-up state must be one of {FOLLOWUP_STATES}")
    m = _marks(mark, len(_MUTABLE) + 2)
    sets = ", ".join(f"{c} = {m[i]}" for i, c in enumerate((*_MUTABLE, "updated_at")))
    values = (
        t.state, t.due_at, t.attempts, t.last_outcome, json.dumps(dict(t.answer), ensure_ascii=False),
        t.operator, t.updated_at, t.id,
    )  # fmt: skip
    return f"UPDATE followups SET {sets} WHERE id = {m[-1]}", values


class SqliteFollowupBook:
    def __init__(self, conn: aiosqlite.Connection, writer: BatchWriter, now: Callable[[], float]) -> None:
        self._conn = conn
        self._writer = writer
        self._now = now
        self._lock = asyncio.Lock()  # one process owns the file: claims are serialised here

    async def _rows(self, where: str, *args: Any) -> list[Followup]:
        async with self._conn.execute(f"SELECT {_COLUMNS} FROM followups {where}", args) as cur:
            return [_task(r) for r in await cur.fetchall()]

    async def add(self, ticket_id: str, caller: str, due_at: float) -> Followup:
        async with self._lock:
            earlier = await self.for_ticket(ticket_id)
            open_ = [t for t in earlier if t.state != "done"]
            if open_:
                return open_[0]
            now = self._now()
            task = Followup(
                f"{ticket_id}-{len(earlier) + 1}", ticket_id, caller, "due", due_at, 0, "", {}, "", now, now
            )
            await self._writer.write([_insert(task, "?")])
            return task

    async def get(self, task_id: str) -> Followup | None:
        found = await self._rows("WHERE id = ?", task_id)
        return found[0] if found else None

    async def for_ticket(self, ticket_id: str) -> list[Followup]:
        return await self._rows("WHERE ticket_id = ? ORDER BY created_at, id", ticket_id)

    async def in_state(self, state: str, *, due_before: float = 0.0, limit: int = 100) -> list[Followup]:
        if due_before:
            return await self._rows(
                "WHERE state = ? AND due_at <= ? ORDER BY due_at LIMIT ?", state, due_before, limit
            )
        return await self._rows("WHERE state = ? ORDER BY due_at LIMIT ?", state, limit)

    async def claim(
        self, task_id: str, from_state: str, to_state: str, operator: str = ""
    ) -> Followup | None:
        async with self._lock:
            task = await self.get(task_id)
            if task is None or task.state != from_state:
                return None
            claimed = replace(
                task, state=to_state, operator=operator or task.operator, updated_at=self._now()
            )
            await self._writer.write([_update(claimed, "?")])
            return claimed

    async def save(self, task: Followup) -> None:
        await self._writer.write([_update(task, "?")])


class PgFollowupBook:
    def __init__(self, pool: asyncpg.Pool, writer: BatchWriter, now: Callable[[], float]) -> None:
        self._pool = pool
        self._writer = writer
        self._now = now

    async def _rows(self, where: str, *args: Any) -> list[Followup]:
        return [_task(r) for r in await self._pool.fetch(f"SELECT {_COLUMNS} FROM followups {where}", *args)]

    async def add(self, ticket_id: str, caller: str, due_at: float) -> Followup:
        async with self._pool.acquire() as conn, conn.transaction():
            # the ticket's row lock serialises two nodes adding a task for one ticket
            await conn.execute("SELECT id FROM tickets WHERE id = $1 FOR UPDATE", ticket_id)
            rows = await conn.fetch(f"SELECT {_COLUMNS} FROM followups WHERE ticket_id = $1", ticket_id)
            earlier = [_task(r) for r in rows]
            open_ = [t for t in earlier if t.state != "done"]
            if open_:
                return open_[0]
            now = self._now()
            task = Followup(
                f"{ticket_id}-{len(earlier) + 1}", ticket_id, caller, "due", due_at, 0, "", {}, "", now, now
            )
            sql, args = _insert(task, "$")
            await conn.execute(sql, *args)
            return task

    async def get(self, task_id: str) -> Followup | None:
        found = await self._rows("WHERE id = $1", task_id)
        return found[0] if found else None

    async def for_ticket(self, ticket_id: str) -> list[Followup]:
        return await self._rows("WHERE ticket_id = $1 ORDER BY created_at, id", ticket_id)

    async def in_state(self, state: str, *, due_before: float = 0.0, limit: int = 100) -> list[Followup]:
        if due_before:
            return await self._rows(
                "WHERE state = $1 AND due_at <= $2 ORDER BY due_at LIMIT $3", state, due_before, limit
            )
        return await self._rows("WHERE state = $1 ORDER BY due_at LIMIT $2", state, limit)

    async def claim(
        self, task_id: str, from_state: str, to_state: str, operator: str = ""
    ) -> Followup | None:
        row = await self._pool.fetchrow(
            "UPDATE followups SET state = $3, operator = CASE WHEN $4 = '' THEN operator ELSE $4 END,"
            f" updated_at = $5 WHERE id = $1 AND state = $2 RETURNING {_COLUMNS}",
            task_id, from_state, to_state, operator, self._now(),
        )  # fmt: skip
        return _task(row) if row is not None else None

    async def save(self, task: Followup) -> None:
        await self._writer.write([_update(task, "$")])
