"""The centre's leader: the one node that runs the centre-wide jobs (the webhook sender, the
follow-up dialler, the store's housekeeping and the deadline reminders), so a node's death does
not stop them and two nodes never run them at once.

One row in PostgreSQL (`centre_leader`) names the holder and when its lease ends, in the
database's clock (the nodes' clocks may disagree). Every node tries to claim the row three times
per lease: the holder renews it, another node takes it only once it has lapsed. The holder
steps down by itself (stops the jobs) when it has not renewed for two thirds of a lease, whatever
the reason (a stall, an unreachable database), so it has stopped before anyone may take over;
a node that stops releases the row so the next takes over at its next try.

On SQLite (one node) there is no leader: the jobs just run (`Solo`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Protocol

import asyncpg

from ivr.store.pgschema import migrate

log = logging.getLogger(__name__)

ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
_CLAIM = (
    "INSERT INTO centre_leader (id, node, lease_until, since)"
    " VALUES (1, $1, extract(epoch FROM clock_timestamp()) + $2, extract(epoch FROM clock_timestamp()))"
    " ON CONFLICT (id) DO UPDATE SET node = EXCLUDED.node, lease_until = EXCLUDED.lease_until,"
    " since = CASE WHEN centre_leader.node = EXCLUDED.node THEN centre_leader.since ELSE EXCLUDED.since END"
    " WHERE centre_leader.node = EXCLUDED.node"
    " OR centre_leader.lease_until < extract(epoch FROM clock_timestamp())"
    " RETURNING node"
)
_RELEASE = "UPDATE centre_leader SET lease_until = 0 WHERE id = 1 AND node = $1"


class Job(Protocol):
    """A centre-wide job: started when this node leads, stopped when it no longer does."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


class Solo:
    """One node, one store: it always leads."""

    def __init__(self, jobs: Sequence[Job]) -> None:
        self.jobs = list(jobs)

    @property
    def held(self) -> bool:
        return True

    async def start(self) -> None:
        for job in self.jobs:
            job.start()

    async def stop(self) -> None:
        for job in self.jobs:
            await job.stop()


class Leadership:
    """The leader lease of node `node` on the shared store at `url`."""

    def __init__(self, url: str, node: str, jobs: Sequence[Job], *, lease_seconds: float = 15.0) -> None:
        self.url = url
        self.node = node
        self.jobs = list(jobs)
        self.lease_seconds = lease_seconds
        self._held = False
        self._renewed = 0.0  # monotonic time the last successful claim was sent
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def held(self) -> bool:
        return self._held

    async def start(self) -> None:
        """Migrate (the row's table), then try to lead now and every third of a lease."""
        conn = await asyncpg.connect(self.url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        await self.try_lead()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"leader-{self.node}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        was = self._held
        await self._step_down("stopping")
        if was and self._conn is not None:
            with contextlib.suppress(*ERRORS):
                await self._conn.execute(_RELEASE, self.node)
        if self._conn is not None:
            with contextlib.suppress(*ERRORS):
                await self._conn.close()

    async def try_lead(self) -> bool:
        """One claim: renew our lease or take a lapsed one; start or stop the jobs to match."""
        sent = time.monotonic()
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self.url, timeout=self.lease_seconds / 3)
            holder = await self._conn.fetchval(
                _CLAIM, self.node, self.lease_seconds, timeout=self.lease_seconds / 3
            )
        except ERRORS as exc:
            if self._conn is not None:  # a timed-out or broken connection: a new one next time
                self._conn.terminate()
                self._conn = None
            if self._held and time.monotonic() - self._renewed > self.lease_seconds * 2 / 3:
                await self._step_down(f"lease not renewed ({exc})")
            elif not self._held:
                log.debug("leader claim of %s failed: %s", self.node, exc)
            return self._held
        if holder == self.node:
            self._renewed = sent
            if not self._held:
                self._held = True
                log.info(
                    "node %s leads the centre: starting its %d centre-wide job(s)", self.node, len(self.jobs)
                )
                for job in self.jobs:
                    job.start()
        else:
            await self._step_down("another node leads")
        return self._held

    async def _step_down(self, why: str) -> None:
        if not self._held:
            return
        self._held = False
        log.warning("node %s no longer leads the centre (%s): centre-wide jobs stopped", self.node, why)
        for job in self.jobs:
            await job.stop()

    async def _run(self) -> None:
        for _ in range(100_000_000):  # for the life of the node
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                await self.try_lead()
            except Exception:  # a job that fails to start or stop must not end the lease
                log.exception("leader lease round of %s failed", self.node)
