"""Where a store under test lives, and raw access to it for checks the store does not offer."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from ivr.store import Store, open_store


@dataclass
class Backend:
    name: str  # "sqlite" or "postgresql"
    where: str  # file path or URL
    duplicate_key: type[BaseException]  # what a primary-key clash raises

    async def open(self, **kw: Any) -> Store:
        return await open_store(self.where, **kw)

    async def rows(self, sql: str, *args: Any) -> Sequence[tuple[Any, ...]]:
        """Run one query outside the store (`$1`-style parameters work on both)."""
        if self.name == "sqlite":
            with sqlite3.connect(self.where) as raw:
                return raw.execute(sql.replace("$1", "?").replace("$2", "?"), args).fetchall()
        conn = await asyncpg.connect(self.where)
        try:
            return [tuple(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()
