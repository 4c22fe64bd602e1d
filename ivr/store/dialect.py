"""One book for SQLite and PostgreSQL: reads written once with `?` placeholders, run on either.

Writes still go through the store's batching writer (`Statement`s in the database's own
placeholder style: `mark` says which)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import aiosqlite

if TYPE_CHECKING:
    import asyncpg

_MARK = re.compile(r"\?")


def numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, ...`."""
    count = iter(range(1, 1000))
    return _MARK.sub(lambda _: f"${next(count)}", sql)


class Reader:
    """Rows from either database; `mark` is the placeholder style writes must use."""

    def __init__(self, conn: aiosqlite.Connection | None = None, pool: asyncpg.Pool | None = None) -> None:
        self._conn = conn
        self._pool = pool
        self.mark = "?" if conn is not None else "$"

    def sql(self, text: str) -> str:
        return text if self.mark == "?" else numbered(text)

    async def rows(self, text: str, args: Sequence[Any] = ()) -> list[Any]:
        if self._conn is not None:
            async with self._conn.execute(text, tuple(args)) as cur:
                return list(await cur.fetchall())
        assert self._pool is not None
        return list(await self._pool.fetch(numbered(text), *args))

    async def row(self, text: str, args: Sequence[Any] = ()) -> Any | None:
        found = await self.rows(text, args)
        return found[0] if found else None
