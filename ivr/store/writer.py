"""Batched writes: every write is a unit of statements that commits atomically; units queued
while a commit runs share the next transaction, so throughput grows with load instead of
paying one fsync (or one network round trip) per write. The database is behind `Transact`:
one call runs the units given in one transaction, or raises and leaves nothing behind."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

Statement = tuple[str, Sequence[Any]]
Transact = Callable[[Sequence[Sequence[Statement]]], Awaitable[None]]


@dataclass(eq=False)
class _Unit:
    statements: Sequence[Statement]
    done: asyncio.Future[None] | None  # None: fire and forget (events), failures are logged


class BatchWriter:
    def __init__(self, transact: Transact, batch_max: int = 500) -> None:
        self._transact = transact
        self._max = max(1, batch_max)
        self._queue: asyncio.Queue[_Unit | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # committed transactions, for tests and benchmarks

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="store-writer")

    async def close(self) -> None:
        """Commit everything queued, then stop."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        await self._task
        self._task = None

    async def write(self, statements: Sequence[Statement]) -> None:
        """Returns once the statements are committed; raises what the database raised for them."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._put(_Unit(statements, fut))
        await fut

    def write_nowait(self, statements: Sequence[Statement]) -> None:
        self._put(_Unit(statements, None))

    def _put(self, unit: _Unit) -> None:
        if self._task is None or self._task.done():
            raise RuntimeError("store is closed")
        self._queue.put_nowait(unit)

    async def flush(self) -> None:
        """Wait until everything queued before this call is committed."""
        await self.write(())

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            batch: list[_Unit] = []
            if first is None:
                stopping = True
            else:
                batch.append(first)
            while len(batch) < self._max and not self._queue.empty():
                unit = self._queue.get_nowait()
                if unit is None:
                    stopping = True
                    continue
                batch.append(unit)
            if batch:
                await self._commit(batch)

    async def _commit(self, batch: list[_Unit]) -> None:
        try:
            await self._transaction(batch)
        except Exception:
            # one bad unit must not sink the others: retry each alone and blame only the culprit
            for unit in batch:
                try:
                    await self._transaction([unit])
                except Exception as exc:
                    self._settle(unit, exc)
                else:
                    self._settle(unit, None)
            return
        for unit in batch:
            self._settle(unit, None)

    async def _transaction(self, batch: list[_Unit]) -> None:
        await self._transact([unit.statements for unit in batch])
        self.batches += 1

    @staticmethod
    def _settle(unit: _Unit, exc: BaseException | None) -> None:
        if unit.done is None:
            if exc is not None:
                log.error("store write failed: %s", exc, exc_info=exc)
            return
        if unit.done.done():
            return
        if exc is None:
            unit.done.set_result(None)
        else:
            unit.done.set_exception(exc)
