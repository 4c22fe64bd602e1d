"""Store benchmark: sustained ticket creates and updates (each a ticket row plus a history row,
committed), fire-and-forget queue events, and the after-call figures (one aggregate query) over
20,000 dispatched, replied and followed-up tickets. Run: .venv/bin/python bench/tickets.py"""

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


async def figures(store: Store, n: int) -> tuple[float, float]:
    """Milliseconds for the per-unit figures and the per-operator survey over `n` tickets that
    went through dispatch, reply and a follow-up (the median of 5 runs each)."""
    units = ("朝阳区城管委", "海淀区水务局", "东城区住建委", "西城区交通委")

    async def worker(k: int) -> None:
        for i in range(k, n, CONCURRENCY):
            t = await store.tickets.create(f"137{i:08d}", status="open", operator=f"10{i % 50:02d}")
            sent = {"status": "dispatched", "unit": units[i % 4], "due_at": time.time() + 3600}
            await store.tickets.update(t.id, sent, actor="seat:1", event="dispatch")
            await store.tickets.update(t.id, {"status": "replied"}, actor="unit", event="reply")
            answer = {"followup": {"solved": i % 3 > 0, "satisfaction": "满意"}, "satisfaction": "满意"}
            await store.tickets.update(t.id, {"survey": answer}, actor="line", event="followup")

    await asyncio.gather(*(worker(k) for k in range(CONCURRENCY)))
    timings: list[list[float]] = [[], []]
    for _ in range(5):
        t0 = time.perf_counter()
        await store.tickets.event_counts(0.0, time.time() + 1)
        timings[0].append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        await store.tickets.survey_counts(0.0, time.time() + 1)
        timings[1].append((time.perf_counter() - t0) * 1000)
    return sorted(timings[0])[2], sorted(timings[1])[2]


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
            per_unit, per_operator = await figures(store, 20_000)
        finally:
            await store.close()
    print(f"store benchmark: SQLite WAL, {CONCURRENCY} concurrent writers\n")
    print(f"{'operation':<42}{'per second':>12}")
    for name, rate in rows:
        print(f"  {name:<40}{rate:>12,.0f}")
    print(f"\n  transactions committed: {batches:,}")
    print("\nafter-call figures over 20,000 followed-up tickets (one GROUP BY each, median of 5):")
    print(f"  per unit {per_unit:.0f} ms, post-call survey per operator {per_operator:.0f} ms")


if __name__ == "__main__":
    asyncio.run(main())
