"""The private PostgreSQL server: a real initdb and pg_ctl in a folder of its own."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from ivr.store import open_store
from ivr.store.pgserver import PgServer, PgServerError


def test_the_run_server_keeps_its_data_private(pg_server: PgServer) -> None:
    assert pg_server.data.stat().st_mode & 0o077 == 0
    assert pg_server.directory.stat().st_mode & 0o077 == 0
    assert (pg_server.directory / "password").stat().st_mode & 0o077 == 0
    conf = (pg_server.data / "pg_hba.conf").read_text()
    assert "trust" not in "".join(line for line in conf.splitlines() if not line.startswith("#"))
    with pytest.raises(PgServerError, match="letters, digits"):
        pg_server.create_database("x; DROP DATABASE hotline")


async def _query(url: str, sql: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def test_a_server_restarted_on_its_folder_keeps_its_data() -> None:
    directory = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
    server = PgServer(directory, database="centre")
    try:
        url = await asyncio.to_thread(server.start)
        assert "@127.0.0.1:" in url and url.endswith("/centre")
        await _query(url, "CREATE TABLE kept AS SELECT 42 AS answer")
        await asyncio.to_thread(server.stop)
        with pytest.raises(PgServerError, match="not started"):
            server.url()
        url = await asyncio.to_thread(server.start)  # no second initdb: same data, same password
        assert await _query(url, "SELECT answer FROM kept") == 42
        assert await _query(url, "SHOW listen_addresses") == "127.0.0.1"
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(directory, ignore_errors=True)


async def test_the_store_reaches_the_server_over_its_unix_socket(pg_server: PgServer, pg_url: str) -> None:
    tcp = urlsplit(pg_url)
    socket_url = f"postgresql://{tcp.username}:{tcp.password}@{tcp.path}?host={pg_server.directory}"
    socket_url += f"&port={pg_server.port}"
    store = await open_store(socket_url)
    try:
        ticket = await store.tickets.create("13800000000")
        assert await store.tickets.get(ticket.id) == ticket
        assert "***" in store.location and str(tcp.password) not in store.location
    finally:
        await store.close()
