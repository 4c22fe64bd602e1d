"""Two or more shared-queue nodes in one test: each a `SharedAcd` with its own fake seat line,
caller lines and event log, all on one database of the run's real PostgreSQL server and one
ManualClock (queue timers in virtual seconds; database round trips take real time)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from acd_fakes import FakeCallerLine, FakeSeatLine

from agents.clock import ManualClock
from agents.eventlog import EventLog
from agents.shared import SharedAcd
from ivr.config import QueueSettings, SeatSettings
from ivr.records import TERMINAL, CallContext, QueueEvent, QueueRequest, QueueResult, SeatEvent, urgency_for
from ivr.records import QueueEventKind as K
from ivr.store import TicketBook


async def until(cond: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    """Wait (real time, bounded) for something other tasks or nodes do."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await asyncio.sleep(0.005)


class Node:
    def __init__(
        self,
        name: str,
        url: str,
        clock: ManualClock,
        seats: list[SeatSettings],
        queues: list[QueueSettings],
        tickets: TicketBook | None = None,
        lease_seconds: float = 15.0,
    ) -> None:
        self.name = name
        self.clock = clock
        self.line = FakeSeatLine(clock, answer_after=0.0)
        self.log = EventLog()
        self.acd = SharedAcd(
            url,
            name,
            {q.name: q for q in queues},
            seats,
            self.line,
            clock=clock,
            events=self.log,
            tickets=tickets,
            lease_seconds=lease_seconds,
        )
        self.callers: dict[str, FakeCallerLine] = {}
        self.tasks: dict[str, asyncio.Task[QueueResult]] = {}

    def call(self, call_id: str, queue: str = "general", priority: int = 0, **skills: int) -> None:
        line = self.callers[call_id] = FakeCallerLine()
        context = CallContext(
            call_id,
            f"138{call_id}",
            flow="main",
            path=("main:start", "main:operator"),
            transcript=("ivr: 请讲", f"caller: {call_id} 路灯坏了"),
            urgency=urgency_for(None, priority),
        )
        request = QueueRequest(queue, context, priority=priority, skills=skills)
        self.tasks[call_id] = asyncio.ensure_future(self.acd.enqueue(line, request))

    async def joined(self, *call_ids: str) -> None:
        await until(lambda: all(c in self.kinds_by_call() for c in call_ids), what=f"{call_ids} queued")

    def kinds_by_call(self) -> dict[str, list[K]]:
        out: dict[str, list[K]] = {}
        for e in self.log.queue:
            out.setdefault(e.call_id, []).append(e.kind)
        return out

    def kinds(self, call_id: str) -> list[K]:
        return [e.kind for e in self.log.queue if e.call_id == call_id]

    async def result(self, call_id: str) -> QueueResult:
        await until(self.tasks[call_id].done, what=f"{call_id} leaves the queue")
        return self.tasks[call_id].result()


class Centre:
    """Nodes sharing one database: `centre.a`, `centre.b` ..."""

    def __init__(
        self, url: str, seats: list[SeatSettings], queues: list[QueueSettings] | None = None, **q: Any
    ):
        self.clock = ManualClock()
        base = QueueSettings(name="general", announce_every=0, wrapup_seconds=0, ring_timeout=10)
        self.queues = queues or [replace(base, **q)]
        self.url = url
        self.seats = seats
        self.nodes: list[Node] = []
        # virtual time jumps while a lease renewal is in flight (real time): tests that advance
        # the clock far without meaning to kill a node use a long lease
        self.lease_seconds = 15.0

    async def node(self, name: str, tickets: TicketBook | None = None) -> Node:
        n = Node(name, self.url, self.clock, self.seats, self.queues, tickets, self.lease_seconds)
        await n.acd.start()
        self.nodes.append(n)
        return n

    def queue_events(self) -> list[QueueEvent]:
        return sorted((e for n in self.nodes for e in n.log.queue), key=lambda e: e.at)

    def seat_events(self) -> list[SeatEvent]:
        return [e for n in self.nodes for e in n.log.seat]

    def rings(self) -> list[tuple[str, str]]:
        return [r for n in self.nodes for r in n.line.rings]

    async def seat_state(self, seat_id: str) -> str:
        return (await self.nodes[0].acd.seat(seat_id)).state.value

    def check_events(self) -> None:
        """From the events of all nodes: one CONNECT and at most one terminal event per caller."""
        events = self.queue_events()
        connects = Counter(e.call_id for e in events if e.kind is K.CONNECT)
        assert all(n == 1 for n in connects.values()), connects
        ends = Counter(e.call_id for e in events if e.kind in TERMINAL)
        assert all(n == 1 for n in ends.values()), ends

    async def close(self) -> None:
        for n in self.nodes:
            for t in n.tasks.values():
                t.cancel()
            await asyncio.gather(*n.tasks.values(), return_exceptions=True)
            await n.acd.stop(release=False)


MakeCentre = Callable[..., Awaitable[Centre]]  # the `centre` fixture in conftest.py
