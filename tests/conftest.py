"""One PostgreSQL server for the whole run, started only if a test asks for it.

initdb + pg_ctl in a fresh folder under /tmp (reachable by the unprivileged account the server
runs as when the tests run as root); each test gets its own database on it. Missing PostgreSQL
programs fail the tests that need them with the install hint (`make test` installs them)."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

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
