"""Console sessions in the store, for SQLite and PostgreSQL alike (one table, `console_sessions`).

Writes go through the store's batching writer like every other write; reads go straight to the
database, so a session written by one node is valid on every node as soon as it is committed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiosqlite

from ivr.store.base import SessionRecord
from ivr.store.writer import BatchWriter, Statement

if TYPE_CHECKING:
    import asyncpg

_COLUMNS = "token_hash, role, seat_id, created_at, last_seen, unit_id, login"


def _record(row: Any) -> SessionRecord:
    return SessionRecord(row[0], row[1], row[2], float(row[3]), float(row[4]), row[5], row[6])


def _put(record: SessionRecord, mark: str) -> list[Statement]:
    """A seat's earlier sessions end when it signs in again, and so do a supervisor's (one
    session per person); unit staff may sign in at several desks."""
    p = [f"${i}" if mark == "$" else "?" for i in range(1, 8)]
    values = (record.token_hash, record.role, record.seat_id, record.created_at, record.last_seen)
    insert = (
        f"INSERT INTO console_sessions ({_COLUMNS}) VALUES ({', '.join(p)})",
        (*values, record.unit_id, record.login),
    )
    if record.seat_id:
        return [(f"DELETE FROM console_sessions WHERE seat_id = {p[0]}", (record.seat_id,)), insert]
    if record.role == "supervisor" and record.login:
        sql = f"DELETE FROM console_sessions WHERE role = {p[0]} AND login = {p[1]}"
        return [(sql, (record.role, record.login)), insert]
    return [insert]


class SqliteSessionBook:
    def __init__(self, conn: aiosqlite.Connection, writer: BatchWriter) -> None:
        self._conn = conn
        self._writer = writer

    async def put(self, record: SessionRecord) -> None:
        await self._writer.write(_put(record, "?"))

    async def get(self, token_hash: str) -> SessionRecord | None:
        sql = f"SELECT {_COLUMNS} FROM console_sessions WHERE token_hash = ?"
        async with self._conn.execute(sql, (token_hash,)) as cur:
            row = await cur.fetchone()
        return _record(row) if row is not None else None

    async def touch(self, token_hash: str, at: float) -> None:
        sql = "UPDATE console_sessions SET last_seen = ? WHERE token_hash = ? AND last_seen < ?"
        await self._writer.write([(sql, (at, token_hash, at))])

    async def delete(self, token_hash: str) -> None:
        await self._writer.write([("DELETE FROM console_sessions WHERE token_hash = ?", (token_hash,))])

    async def by_login(self, role: str, login: str) -> list[SessionRecord]:
        sql = f"SELECT {_COLUMNS} FROM console_sessions WHERE role = ? AND login = ?"
        async with self._conn.execute(sql, (role, login)) as cur:
            return [_record(r) for r in await cur.fetchall()]

    async def prune(self, idle_before: float) -> int:
        sql = "SELECT count(*) FROM console_sessions WHERE last_seen < ?"
        async with self._conn.execute(sql, (idle_before,)) as cur:
            row = await cur.fetchone()
        await self._writer.write([("DELETE FROM console_sessions WHERE last_seen < ?", (idle_before,))])
        return int(row[0]) if row else 0


class PgSessionBook:
    def __init__(self, pool: asyncpg.Pool, writer: BatchWriter) -> None:
        self._pool = pool
        self._writer = writer

    async def put(self, record: SessionRecord) -> None:
        await self._writer.write(_put(record, "$"))

    async def get(self, token_hash: str) -> SessionRecord | None:
        sql = f"SELECT {_COLUMNS} FROM console_sessions WHERE token_hash = $1"
        row = await self._pool.fetchrow(sql, token_hash)
        return _record(row) if row is not None else None

    async def touch(self, token_hash: str, at: float) -> None:
        sql = "UPDATE console_sessions SET last_seen = $1 WHERE token_hash = $2 AND last_seen < $1"
        await self._writer.write([(sql, (at, token_hash))])

    async def delete(self, token_hash: str) -> None:
        await self._writer.write([("DELETE FROM console_sessions WHERE token_hash = $1", (token_hash,))])

    async def by_login(self, role: str, login: str) -> list[SessionRecord]:
        sql = f"SELECT {_COLUMNS} FROM console_sessions WHERE role = $1 AND login = $2"
        return [_record(r) for r in await self._pool.fetch(sql, role, login)]

    async def prune(self, idle_before: float) -> int:
        gone = await self._pool.fetchval(
            "WITH gone AS (DELETE FROM console_sessions WHERE last_seen < $1 RETURNING 1)"
            " SELECT count(*) FROM gone",
            idle_before,
        )
        return int(gone or 0)
