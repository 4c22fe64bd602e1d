"""ACD benchmarks: decision latency (seat freed -> next offer decided) and a sustained load of
200 seats with 500 waiting callers. Run: .venv/bin/python bench/acd.py

With `--store postgresql` the shared queue of a centre (agents/shared) instead: 1,500 seats and
1,000 waiting callers in a PostgreSQL started in a temporary folder (or `--url`); the decision
is then timed from the call's end to the committed match round that offered the seat."""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import tempfile
import time

from agents.acd import Acd
from agents.eventlog import EventLog
from agents.lines import SilentLine
from agents.shared import SharedAcd
from ivr.config import QueueSettings, SeatSettings
from ivr.records import CallContext, Offer, QueueEvent, QueueEventKind, QueueRequest, RingOutcome, SeatEvent

SEATS = 200
WAITING = 500


def p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class Line:
    """Answers at once; the call then lasts `talk()` seconds and ends by the operator."""

    def __init__(self, talk: float | None) -> None:
        self.acd: Acd | SharedAcd | None = None
        self.talk = talk

    async def ring(self, offer: Offer, timeout: float) -> RingOutcome:
        if self.talk is not None:
            asyncio.get_running_loop().call_later(
                self.talk * random.uniform(0.5, 1.5), self._end, offer.call_id
            )
        return "answered"

    def _end(self, call_id: str) -> None:
        assert self.acd is not None
        self.acd.call_ended(call_id, "operator")


class OfferClock:
    """An event sink that stamps when each seat's OFFER was decided (it is emitted synchronously
    in the match round, so the stamp is the decision)."""

    def __init__(self) -> None:
        self.decided: dict[str, int] = {}

    def queue_event(self, event: QueueEvent) -> None:
        if event.kind is QueueEventKind.OFFER:
            self.decided[event.seat_id] = time.perf_counter_ns()

    def seat_event(self, event: SeatEvent) -> None:
        return None


def request(n: int, queue: str = "general", priority: int = 0, **skills: int) -> QueueRequest:
    return QueueRequest(queue, CallContext(f"c{n}", f"1{n:010d}"), priority=priority, skills=skills)


def settings(strategy: str, seats: int) -> tuple[dict[str, QueueSettings], list[SeatSettings]]:
    queues = {
        "general": QueueSettings(
            name="general", strategy=strategy, wrapup_seconds=0, announce_every=0, max_length=0
        ),
        "urgent": QueueSettings(
            name="urgent", strategy=strategy, wrapup_seconds=0, announce_every=0, weight=1
        ),
    }
    seats_ = [
        SeatSettings(
            id=f"{i:04d}",
            name=str(i),
            uri="sip:x",
            queues=("general", "urgent"),
            skills={"general": 1 + i % 5},
        )
        for i in range(seats)
    ]
    return queues, seats_


def build(strategy: str, talk: float | None, sink: OfferClock | None = None) -> tuple[Acd, Line]:
    queues, seats = settings(strategy, SEATS)
    line = Line(talk)
    acd = Acd(queues, seats, line, events=EventLog(*([sink] if sink else []), keep=20_000))
    line.acd = acd
    return acd, line


async def latency(strategy: str, rounds: int = 3000) -> dict[str, float]:
    """All seats busy, WAITING callers queued; end one call, time until the next offer is decided."""
    clock = OfferClock()
    acd, _ = build(strategy, None, clock)
    await acd.start()
    n = 0
    tasks: set[asyncio.Task[object]] = set()

    def call() -> None:
        nonlocal n
        n += 1
        t = asyncio.ensure_future(
            acd.enqueue(SilentLine(), request(n, priority=int(n % 7 == 0), general=1 + n % 3))
        )
        tasks.add(t)
        t.add_done_callback(tasks.discard)

    for sid in acd.seats:
        acd.seat_command(sid, "login")
    for _ in range(SEATS + WAITING):
        call()
    for _ in range(50):
        await asyncio.sleep(0)
    decided = clock.decided
    samples: list[float] = []
    for _ in range(rounds):
        talking = [e for e in acd._entries.values() if e.state.value == "connected"]
        entry = random.choice(talking)
        assert entry.seat_id is not None
        sid = entry.seat_id
        decided.pop(sid, None)
        t0 = time.perf_counter_ns()
        acd.call_ended(entry.call_id, "operator")
        for _ in range(20):
            if sid in decided:
                break
            await asyncio.sleep(0)
        samples.append((decided[sid] - t0) / 1e6)
        call()  # keep WAITING callers queued
        await asyncio.sleep(0)
    assert len(acd.waiting()) >= WAITING - 5, len(acd.waiting())
    await acd.stop()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"p50": statistics.median(samples), "p99": p(samples, 0.99), "max": max(samples)}


async def load(seconds: float = 5.0, talk: float = 0.25) -> dict[str, float]:
    """200 seats answer and hang up continuously; arrivals keep ~500 callers waiting. Reports
    completed calls/s, event-loop lag (how late a 5 ms ticker fires) and the queue at the end."""
    acd, _ = build("longest_idle", talk)
    await acd.start()
    for sid in acd.seats:
        acd.seat_command(sid, "login")
    n = 0
    tasks: set[asyncio.Task[object]] = set()

    def call() -> None:
        nonlocal n
        n += 1
        queue = "urgent" if n % 10 == 0 else "general"
        t = asyncio.ensure_future(acd.enqueue(SilentLine(), request(n, queue)))
        tasks.add(t)
        t.add_done_callback(tasks.discard)

    for _ in range(SEATS + WAITING):
        call()
    lags: list[float] = []
    start = time.perf_counter()
    for _ in range(int(seconds / 0.005)):
        t0 = time.perf_counter()
        await asyncio.sleep(0.005)
        lags.append((time.perf_counter() - t0 - 0.005) * 1000)
        # top up arrivals to keep WAITING callers queued
        for _ in range(max(0, WAITING - len(acd.waiting()))):
            call()
    elapsed = time.perf_counter() - start
    assert isinstance(acd.events, EventLog)
    done = sum(1 for e in acd.events.queue if e.kind.value == "COMPLETEAGENT")
    waiting = len(acd.waiting())
    idle_ready = sum(1 for s in acd.seats.values() if s.state.value == "ready")
    await acd.stop()
    for t in list(tasks):
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "calls/s": done / elapsed,
        "capacity calls/s": SEATS / talk,
        "loop lag p99 ms (after 0.5 s)": p(lags[100:], 0.99),
        "loop lag max ms (after 0.5 s)": max(lags[100:]),
        "loop lag max ms (start burst)": max(lags[:100]),
        "waiting at end": waiting,
        "ready seats idle at end": idle_ready,
    }


async def shared_latency(url: str, strategy: str, seats: int, waiting: int, rounds: int) -> dict[str, float]:
    """The shared queue: all seats busy, `waiting` callers queued; end one call, time until the
    match round that offered its seat the next caller has committed."""
    clock = OfferClock()
    queues, seat_list = settings(strategy, seats)
    line = Line(None)
    acd = SharedAcd(url, f"bench-{strategy}", queues, seat_list, line, events=EventLog(clock, keep=20_000))
    line.acd = acd
    await acd.start()
    async with acd.pool.acquire() as conn:  # one database for every strategy: start empty
        await conn.execute("DELETE FROM queue_entries")
        await conn.execute("UPDATE queue_seats SET state = 'logged_out', call_id = '', pending_state = ''")
    tasks: set[asyncio.Task[object]] = set()
    n = 0

    def call() -> None:
        nonlocal n
        n += 1
        t = asyncio.ensure_future(
            acd.enqueue(SilentLine(), request(n, priority=int(n % 7 == 0), general=1 + n % 3))
        )
        tasks.add(t)
        t.add_done_callback(tasks.discard)

    for sid in acd.seat_settings:
        await acd.seat_command(sid, "login")
    for i in range(seats + waiting):
        call()
        if i % 50 == 49:
            await asyncio.sleep(0.01)
    for _ in range(3000):  # until every seat talks and the rest wait (bounded: 30 s)
        connected = [e for e in acd._entries.values() if e.state.value == "connected"]
        if len(connected) == seats and len(acd._entries) == seats + waiting:
            break
        await asyncio.sleep(0.01)
    decided = clock.decided
    samples: list[float] = []
    for _ in range(rounds):
        talking = [e for e in acd._entries.values() if e.state.value == "connected"]
        entry = random.choice(talking)
        assert entry.seat_id is not None
        sid = entry.seat_id
        decided.pop(sid, None)
        t0 = time.perf_counter_ns()
        acd.call_ended(entry.call_id, "operator")
        for _ in range(2000):  # bounded: 2 s
            if sid in decided:
                break
            await asyncio.sleep(0.001)
        samples.append((decided[sid] - t0) / 1e6)
        call()
        for _ in range(200):  # the new caller has joined and the seat is talking again
            if acd._entries.get(f"c{n}") is not None and entry.call_id not in acd._entries:
                break
            await asyncio.sleep(0.001)
    await acd.stop()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"p50": statistics.median(samples), "p99": p(samples, 0.99), "max": max(samples)}


async def shared(url: str, seats: int, waiting: int, rounds: int) -> None:
    print(f"shared queue (PostgreSQL): {seats} seats, {waiting} waiting callers, {rounds} rounds\n")
    print(f"{'seat freed -> next offer committed':<34}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for strategy in ("longest_idle", "round_robin", "fewest_calls", "least_talk_time", "skills"):
        r = await shared_latency(url, strategy, seats, waiting, rounds)
        print(f"  {strategy:<32}{r['p50']:>9.3f}{r['p99']:>9.3f}{r['max']:>9.3f}")


async def main() -> None:
    random.seed(1)
    print(f"ACD benchmark: {SEATS} seats, {WAITING} waiting callers\n")
    print(f"{'seat freed -> next offer decided':<34}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for strategy in ("longest_idle", "round_robin", "fewest_calls", "least_talk_time", "skills"):
        r = await latency(strategy)
        print(f"  {strategy:<32}{r['p50']:>9.3f}{r['p99']:>9.3f}{r['max']:>9.3f}")
    r2 = await load()
    print("\nsustained load (5 s, talk ~0.25 s per call, every seat busy)")
    for k, v in r2.items():
        print(f"  {k:<32}{v:>12.2f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", choices=("memory", "postgresql"), default="memory")
    ap.add_argument("--url", default="", help="an existing PostgreSQL database (default: start one)")
    ap.add_argument("--seats", type=int, default=1500)
    ap.add_argument("--waiting", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=300)
    args = ap.parse_args()
    if args.store == "memory":
        asyncio.run(main())
    elif args.url:
        asyncio.run(shared(args.url, args.seats, args.waiting, args.rounds))
    else:
        from ivr.store.pgserver import PgServer

        folder = tempfile.mkdtemp(prefix="hotline-bench-pg-")
        try:
            with PgServer(folder, settings={"fsync": "off"}) as server:
                server.create_database("bench")
                asyncio.run(shared(server.url("bench"), args.seats, args.waiting, args.rounds))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
