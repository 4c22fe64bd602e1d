"""Both stores at their real edges: SQLite files in tmp_path and one PostgreSQL server for the run.

The server is started here (initdb + pg_ctl in a fresh folder under /tmp, reachable by the
unprivileged user it runs as); each test gets its own database on it. Missing PostgreSQL
programs fail the tests that need them with the install hint (`make test` installs them)."""

from __future__ import annotations

import itertools
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from ivr.store import Store, open_store
from ivr.store.pgserver import PgServer

_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    directory = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
    # fsync off: these databases live for one run; durability on crash is PostgreSQL's own
    server = PgServer(directory, settings={"fsync": "off", "full_page_writes": "off"})
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A fresh, empty database for one test."""
    name = f"test_{next(_names)}"
    pg_server.create_database(name)
    return pg_server.url(name)


@dataclass
class Backend:
    """Where one store lives, and raw access to it for checks the store does not offer."""

    name: str
    where: str
    duplicate_key: type[BaseException]  # what a primary-key clash raises

    async def open(self, **kw: Any) -> Store:
        return await open_store(self.where, **kw)

    async def rows(self, sql: str, *args: Any) -> Sequence[tuple[Any, ...]]:
        if self.name == "sqlite":
            with sqlite3.connect(self.where) as raw:
                return raw.execute(sql.replace("$1", "?").replace("$2", "?"), args).fetchall()
        conn = await asyncpg.connect(self.where)
        try:
            return [tuple(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", str(tmp_path / "db" / "hotline.db"), sqlite3.IntegrityError)
    url = request.getfixturevalue("pg_url")
    return Backend("postgresql", url, asyncpg.UniqueViolationError)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    s = await backend.open()
    yield s
    await s.close()
