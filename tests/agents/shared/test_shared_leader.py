"""The centre's leader lease on a real PostgreSQL: one node of two runs the centre-wide jobs;
when that process is killed, the other takes over once the lease lapses; a node that stops
hands over at once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import asyncpg

from agents.shared.leader import Leadership, Solo

LEASE = 2.0


class Ticker:
    """A centre-wide job that notes when it runs (the seam the real jobs share: start/stop)."""

    def __init__(self) -> None:
        self.running = False
        self.starts = 0

    def start(self) -> None:
        assert not self.running, "started twice"
        self.running = True
        self.starts += 1

    async def stop(self) -> None:
        self.running = False


_OTHER_NODE = textwrap.dedent(
    """
    import asyncio, sys
    from agents.shared.leader import Leadership

    class Job:
        def start(self):
            print("leading", flush=True)
        async def stop(self):
            print("stopped", flush=True)

    async def main():
        leader = Leadership(sys.argv[1], "node-a", [Job()], lease_seconds=float(sys.argv[2]))
        await leader.start()
        print("held" if leader.held else "follows", flush=True)
        await asyncio.sleep(120)

    asyncio.run(main())
    """
)


async def _holder(url: str) -> str | None:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT node FROM centre_leader WHERE lease_until > extract(epoch FROM clock_timestamp())"
        )
        return str(row[0]) if row else None
    finally:
        await conn.close()


async def _line(proc: asyncio.subprocess.Process, timeout: float = 30.0) -> str:
    assert proc.stdout is not None
    return (await asyncio.wait_for(proc.stdout.readline(), timeout)).decode().strip()


async def test_one_node_of_two_leads_and_the_other_takes_over_when_it_is_killed(pg_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    a = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _OTHER_NODE,
        pg_url,
        str(LEASE),
        stdout=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    job = Ticker()
    b = Leadership(pg_url, "node-b", [job], lease_seconds=LEASE)
    try:
        assert await _line(a) == "leading"
        assert await _line(a) == "held"
        await b.start()
        for _ in range(3):  # a few renewals: b never runs the jobs while a holds the lease
            await asyncio.sleep(LEASE / 2)
            assert not b.held and not job.running
            assert await b.try_lead() is False
        assert await _holder(pg_url) == "node-a"
        os.kill(a.pid, signal.SIGKILL)  # no release: the lease must lapse
        await a.wait()
        for _ in range(int(30 / 0.2)):  # b's own rounds (every third of a lease) take over
            if b.held:
                break
            await asyncio.sleep(0.2)
        assert b.held and job.running and job.starts == 1
        assert await _holder(pg_url) == "node-b"
    finally:
        if a.returncode is None:
            a.kill()
            await a.wait()
        await b.stop()
    assert not job.running


async def test_a_node_that_stops_hands_over_at_the_next_try(pg_url: str) -> None:
    first, second = Ticker(), Ticker()
    a = Leadership(pg_url, "node-a", [first], lease_seconds=60.0)
    b = Leadership(pg_url, "node-b", [second], lease_seconds=60.0)
    await a.start()
    await b.start()
    try:
        assert a.held and first.running and not b.held and not second.running
        await a.stop()  # releases the row: no need to wait a minute for the lease
        assert not first.running
        assert await b.try_lead() and second.running
    finally:
        await b.stop()


async def test_the_holder_steps_down_when_it_cannot_renew(pg_url: str) -> None:
    job = Ticker()
    a = Leadership(pg_url, "node-a", [job], lease_seconds=LEASE)
    await a.start()
    try:
        assert a.held and job.running
        a.url = "postgresql://hotline@127.0.0.1:1/none"  # the database unreachable from here on
        assert a._conn is not None
        a._conn.terminate()
        for _ in range(int(30 / 0.2)):
            if not a.held:
                break
            await asyncio.sleep(0.2)
        assert not a.held and not job.running  # stopped before another node may take over
    finally:
        await a.stop()


async def test_one_node_always_leads() -> None:
    job = Ticker()
    solo = Solo([job])
    await solo.start()
    assert solo.held and job.running
    await solo.stop()
    assert not job.running
