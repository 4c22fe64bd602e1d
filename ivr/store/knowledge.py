"""Knowledge-base versions in the store, for SQLite and PostgreSQL alike (`knowledge_versions`).
Append-only: a change or a retirement is a new version; nothing is overwritten. Two nodes adding
the same article number at once collide on UNIQUE (article, version); the store raises
StoreError and the caller tries again."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import aiosqlite

from ivr.records import KnowledgeVersion
from ivr.store.base import StoreError
from ivr.store.writer import BatchWriter

if TYPE_CHECKING:
    import asyncpg

_COLUMNS = "article, version, title, keywords, answer, retired, actor, at"


def _version(row: Any) -> KnowledgeVersion:
    return KnowledgeVersion(
        int(row[0]),
        int(row[1]),
        row[2],
        tuple(json.loads(row[3])),
        row[4],
        bool(row[5]),
        row[6],
        float(row[7]),
    )


def _params(v: KnowledgeVersion) -> tuple[Any, ...]:
    keywords = json.dumps(list(v.keywords), ensure_ascii=False)
    return (v.article, v.version, v.title, keywords, v.answer, int(v.retired), v.actor, v.at)


class SqliteKnowledgeBook:
    def __init__(self, conn: aiosqlite.Connection, writer: BatchWriter) -> None:
        self._conn = conn
        self._writer = writer

    async def versions(self) -> list[KnowledgeVersion]:
        """Every version, by article then version."""
        sql = f"SELECT {_COLUMNS} FROM knowledge_versions ORDER BY article, version"
        async with self._conn.execute(sql) as cur:
            return [_version(r) for r in await cur.fetchall()]

    async def add(self, versions: list[KnowledgeVersion]) -> None:
        sql = f"INSERT INTO knowledge_versions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        try:
            await self._writer.write([(sql, _params(v)) for v in versions])
        except aiosqlite.IntegrityError as exc:
            raise StoreError(f"knowledge version taken: {exc}") from exc


class PgKnowledgeBook:
    def __init__(self, pool: asyncpg.Pool, writer: BatchWriter) -> None:
        self._pool = pool
        self._writer = writer

    async def versions(self) -> list[KnowledgeVersion]:
        sql = f"SELECT {_COLUMNS} FROM knowledge_versions ORDER BY article, version"
        return [_version(r) for r in await self._pool.fetch(sql)]

    async def add(self, versions: list[KnowledgeVersion]) -> None:
        import asyncpg

        sql = f"INSERT INTO knowledge_versions ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        try:
            await self._writer.write([(sql, _params(v)) for v in versions])
        except asyncpg.UniqueViolationError as exc:
            raise StoreError(f"knowledge version taken: {exc}") from exc
