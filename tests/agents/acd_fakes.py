"""Fakes of the ACD's telephony seams (SeatLine, CallerLine) driven by a ManualClock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from agents.acd import Acd
from agents.clock import ManualClock
from agents.eventlog import EventLog
from ivr.config import QueueSettings, SeatSettings
from ivr.records import (
    CallContext,
    Offer,
    QueueEventKind,
    QueueRequest,
    QueueResult,
    RingOutcome,
    urgency_for,
)


class FakeSeatLine:
    """Rings answer after `answer_after` seconds unless a seat has a script:
    "no_answer" waits out the timeout, "manual" waits for `resolve`, others return at once."""

    def __init__(self, clock: ManualClock, answer_after: float = 1.0) -> None:
        self.clock = clock
        self.answer_after = answer_after
        self.rings: list[tuple[str, str]] = []  # (seat id, call id)
        self.offers: list[Offer] = []
        self.script: dict[str, list[str]] = {}
        self.pending: dict[str, asyncio.Future[RingOutcome]] = {}
        self.cancelled: list[str] = []

    async def ring(self, offer: Offer, timeout: float) -> RingOutcome:
        self.rings.append((offer.seat_id, offer.call_id))
        self.offers.append(offer)
        plan = self.script.get(offer.seat_id)
        behaviour = plan.pop(0) if plan else "answered"
        try:
            if behaviour == "answered":
                await self.clock.sleep(self.answer_after)
                return "answered"
            if behaviour == "no_answer":
                await self.clock.sleep(timeout)
                return "no_answer"
            if behaviour == "manual":
                fut: asyncio.Future[RingOutcome] = asyncio.get_running_loop().create_future()
                self.pending[offer.seat_id] = fut
                return await fut
            assert behaviour in ("busy", "failed", "caller_gone")
            return behaviour  # type: ignore[return-value]
        except asyncio.CancelledError:
            self.cancelled.append(offer.seat_id)
            fut_left = self.pending.get(offer.seat_id)
            if fut_left is not None and fut_left.done():
                del self.pending[offer.seat_id]
            raise

    def resolve(self, seat_id: str, outcome: RingOutcome) -> None:
        self.pending.pop(seat_id).set_result(outcome)

    def seats_rung(self) -> list[str]:
        return [s for s, _ in self.rings]


class FakeCallerLine:
    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []

    async def start_hold_music(self) -> None:
        self.log.append(("hold", "on"))

    async def stop_hold_music(self) -> None:
        self.log.append(("hold", "off"))

    async def announce(self, text: str) -> None:
        self.log.append(("say", text))

    def said(self) -> list[str]:
        return [t for k, t in self.log if k == "say"]


def seat(sid: str, queues: Iterable[str] = ("general",), **skills: int) -> SeatSettings:
    return SeatSettings(
        id=sid, name=f"seat {sid}", uri=f"sip:{sid}@127.0.0.1", skills=skills, queues=tuple(queues)
    )


class Harness:
    def __init__(
        self, seats: list[SeatSettings], queues: list[QueueSettings] | None = None, **q: Any
    ) -> None:
        self.clock = ManualClock()
        self.line = FakeSeatLine(self.clock)
        self.log = EventLog()
        base = QueueSettings(name="general", announce_every=0, wrapup_seconds=0, ring_timeout=10)
        qs = queues or [replace(base, **q)]
        self.acd = Acd({x.name: x for x in qs}, seats, self.line, clock=self.clock, events=self.log)
        self.callers: dict[str, FakeCallerLine] = {}
        self.tasks: dict[str, asyncio.Task[QueueResult]] = {}

    async def start(self, *login: str) -> None:
        await self.acd.start()
        for sid in login:
            await self.advance(1)
            self.acd.seat_command(sid, "login")

    def call(self, call_id: str, queue: str = "general", priority: int = 0, **skills: int) -> None:
        line = self.callers[call_id] = FakeCallerLine()
        context = CallContext(call_id, f"138{call_id}", urgency=urgency_for(None, priority))
        req = QueueRequest(queue, context, priority=priority, skills=skills)
        self.tasks[call_id] = asyncio.ensure_future(self.acd.enqueue(line, req))

    async def advance(self, seconds: float) -> None:
        await self.clock.advance(seconds)

    def kinds(self, call_id: str | None = None) -> list[QueueEventKind]:
        return [e.kind for e in self.log.queue if call_id is None or e.call_id == call_id]

    def state(self, sid: str) -> str:
        return self.acd.seats[sid].state.value

    async def result(self, call_id: str) -> QueueResult:
        await self.clock.settle()
        task = self.tasks[call_id]
        assert task.done(), f"{call_id} still queued"
        return task.result()

    async def close(self) -> None:
        await self.acd.stop()
        for t in self.tasks.values():
            t.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)


MakeHarness = Callable[..., Harness]  # the `make` fixture in conftest.py
