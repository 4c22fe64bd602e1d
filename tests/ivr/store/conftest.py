"""Every store test runs on both stores at their real edges: a SQLite file in tmp_path and a
database on the run's PostgreSQL server (tests/conftest.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from backends import Backend

from ivr.store import Store


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
