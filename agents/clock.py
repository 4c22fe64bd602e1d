"""Time for the ACD: a real clock for service, a manual one so tests run in virtual seconds."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Epoch seconds that never jump backwards (events are stamped with this)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    """Wall time anchored once, then advanced by the monotonic clock, so an NTP step cannot
    make a wait negative."""

    def __init__(self) -> None:
        self._base = time.time() - time.monotonic()

    def now(self) -> float:
        return self._base + time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """Virtual time: `sleep` parks until `advance` moves past its deadline.

    Sleepers wake in deadline order and the loop is given a few turns after each wake-up, so
    work that a timer triggers (which may start new sleeps) happens at that virtual instant.
    """

    def __init__(self, start: float = 1_700_000_000.0, settle_turns: int = 30) -> None:
        self._now = start
        self._turns = settle_turns
        self._seq = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        try:
            await fut
        finally:
            if not fut.done():
                fut.cancel()

    async def settle(self) -> None:
        """Let ready callbacks run; bounded so a busy loop cannot hang a test."""
        for _ in range(self._turns):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        target = self._now + seconds
        await self.settle()
        for _ in range(100_000):
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)
            if not self._sleepers or self._sleepers[0][0] > target:
                break
            deadline, _, fut = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            fut.set_result(None)
            await self.settle()
        self._now = target
        await self.settle()
