"""The centre's PostgreSQL for `ivr cluster up`: one server in `<workdir>/postgres` (PgServer:
initdb once, a free port, the citizens' records private to the server's account), whose URL goes
to every node's `[store] url`, so the nodes share tickets, events, CDRs, the outbox and console
sessions (and the shared queue, once `ivr serve` uses it: docs/cluster.md).

A machine without PostgreSQL's programs, or a server that will not start, is reported and the
nodes keep one SQLite file each, as before: the cluster still comes up."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from ivr.store import redact_store_url
from ivr.store.pgserver import PgServer, PgServerError, find_bindir


class CentreDatabase:
    """`SharedStore` for the supervisor; `url` is "" until started (and if it could not start)."""

    def __init__(self, directory: Path, say: Callable[[str], None]) -> None:
        self._server = PgServer(directory)
        self._say = say
        self.url = ""

    @staticmethod
    def available() -> bool:
        try:
            find_bindir()
        except PgServerError:
            return False
        return True

    async def start(self) -> None:
        try:
            self.url = await asyncio.to_thread(self._server.start)
        except (PgServerError, OSError) as exc:
            self._say(f"shared store not started ({exc}); each node keeps its own SQLite file")
            return
        self._say(f"shared store: {redact_store_url(self.url)} (log {self._server.log})")

    async def stop(self) -> None:
        if self.url:
            await asyncio.to_thread(self._server.stop)
