"""Store benchmark: sustained ticket creates and updates (each a ticket row plus a history row,
committed), and fire-and-forget queue events. Run: .venv/bin/python bench/tickets.py"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from ivr.records import QueueEvent, QueueEventKind
from ivr.store import SqliteStore, Store

CONCURRENCY = 64  # callers writing at once (offers, operator edits) on a busy centre


async def creates(store: Store, n: int) -> float:
    async def worker(k: int) -> None:
        for i in range(k, n, CONCURRENCY):
            await store.tickets.create(
                f"138{i:08d}", description="噪音投诉" * 10, context={"path": ["main", "2"]}
            )

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(CONCURRENCY)))
    return n / (time.perf_counter() - t0)


async def updates(store: Store, n: int) -> float:
    ids = [(await store.tickets.create(f"139{i:08d}")).id for i in range(CONCURRENCY)]

    async def worker(k: int) -> None:
        for i in range(n // CONCURRENCY):
            await store.tickets.update(ids[k], {"description": f"更新{i}", "status": "open"}, actor="seat:1")

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(CONCURRENCY)))
    return (n // CONCURRENCY * CONCURRENCY) / (time.perf_counter() - t0)


async def events(store: Store, n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        store.queue_event(
            QueueEvent(float(i), f"c{i}", "general", QueueEventKind.ENTERQUEUE, data={"position": 1})
        )
        if i % 1000 == 0:
            await asyncio.sleep(0)
    await store.flush()
    return n / (time.perf_counter() - t0)


async def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        store = await SqliteStore.open(Path(d) / "bench.db")
        try:
            rows = [
                ("ticket creates (commit awaited)", await creates(store, 20_000)),
                ("ticket updates (read + write + history)", await updates(store, 10_000)),
                ("queue events (batched, then flushed)", await events(store, 50_000)),
            ]
            batches = store.batches
        finally:
            await store.close()
    print(f"store benchmark: SQLite WAL, {CONCURRENCY} concurrent writers\n")
    print(f"{'operation':<42}{'per second':>12}")
    for name, rate in rows:
        print(f"  {name:<40}{rate:>12,.0f}")
    print(f"\n  transactions committed: {batches:,}")


if __name__ == "__main__":
    asyncio.run(main())
