"""Writes kept through a database outage: when the shared store cannot be reached, each unit the
batching writer hands over is appended to a private local file (0600, one JSON line per unit)
and counts as written; a replay task commits them to the database in the order they were
spooled once it answers again. While anything is spooled, new units join the end of the file
rather than going to the database directly, so the database sees every unit in the order the
node wrote it.

What it does not do: reads do not see spooled rows until they are replayed (a ticket written
during an outage is searchable once the store is back). A unit the database refuses on replay
(a constraint, not an outage) would have been refused without the outage too: it is logged with
its statements and skipped, so one bad unit cannot hold back the others. A node killed between
a replayed batch's commit and the file's rewrite replays that batch again at its next start.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ivr.store.writer import Statement, Transact

log = logging.getLogger(__name__)

REPLAY_BATCH = 200  # units per replay transaction


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$b64": base64.b64encode(bytes(value)).decode()}
    raise TypeError(f"cannot spool a {type(value).__name__}")


def _decode(obj: dict[str, Any]) -> Any:
    if set(obj) == {"$b64"}:
        return base64.b64decode(obj["$b64"])
    return obj


def dump_unit(statements: Sequence[Statement]) -> str:
    return json.dumps([[sql, list(args)] for sql, args in statements], default=_encode, ensure_ascii=False)


def load_unit(line: str) -> list[Statement]:
    return [(sql, tuple(args)) for sql, args in json.loads(line, object_hook=_decode)]


class Spool:
    """`transact` has the writer's `Transact` shape: it commits to the database, or spools the
    units when `is_outage(exc)` says the database could not be reached (other errors are raised
    as before, so the writer still blames the one bad unit)."""

    def __init__(
        self,
        path: Path,
        transact: Transact,
        is_outage: Callable[[BaseException], bool],
        *,
        retry: float = 1.0,
        where: str = "",
    ) -> None:
        self.path = path
        self._transact = transact
        self._is_outage = is_outage
        self._retry = retry
        self._where = where or "the store"
        self._lines: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.spooled = 0  # units written to the file since start, for tests and logs
        self.replayed = 0
        if path.exists():  # left by a run that ended during an outage
            self._lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line]
            if self._lines:
                log.warning("%s: %d unit(s) spooled by an earlier run", self._where, len(self._lines))

    @property
    def pending(self) -> int:
        return len(self._lines)

    def start(self) -> None:
        if self._lines:
            self._kick()

    async def transact(self, units: Sequence[Sequence[Statement]]) -> None:
        if self._lines:  # behind what is spooled: keep the order
            self._append(units)
            return
        try:
            await self._transact(units)
        except Exception as exc:
            if not self._is_outage(exc):
                raise
            log.error(
                "%s unreachable (%s): spooling writes to %s until it is back", self._where, exc, self.path
            )
            self._append(units)

    async def close(self, timeout: float = 5.0) -> None:
        """Give the replay a last chance; what is left stays in the file for the next start."""
        self._closing = True
        if self._task is not None and not self._task.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._lines:
            log.warning("%s: %d unit(s) stay spooled in %s", self._where, len(self._lines), self.path)

    def _append(self, units: Sequence[Sequence[Statement]]) -> None:
        lines = [dump_unit(u) for u in units if u]
        if lines:
            _write(self.path, lines, os.O_APPEND)
            self._lines.extend(lines)
            self.spooled += len(lines)
        self._kick()

    def _kick(self) -> None:
        if (self._task is None or self._task.done()) and self._lines:
            self._task = asyncio.get_running_loop().create_task(self._replay(), name="store-spool")

    async def _replay(self) -> None:
        while self._lines:
            batch = self._lines[:REPLAY_BATCH]
            try:
                await self._transact([load_unit(line) for line in batch])
            except Exception as exc:
                if self._is_outage(exc):
                    if self._closing:
                        return
                    await asyncio.sleep(self._retry)
                    continue
                if not await self._replay_alone(batch):
                    return
            del self._lines[: len(batch)]
            self.replayed += len(batch)
            self._rewrite()
        log.info("%s is back: %d spooled unit(s) replayed in order", self._where, self.replayed)

    async def _replay_alone(self, batch: list[str]) -> bool:
        """A refused batch: each unit alone, skipping (and logging) only the refused ones.
        False: stopped by closing during an outage (the batch stays spooled; a unit already
        committed here is replayed again at the next start)."""
        for line in batch:
            while True:
                try:
                    await self._transact([load_unit(line)])
                except Exception as exc:
                    if self._is_outage(exc):
                        if self._closing:
                            return False
                        await asyncio.sleep(self._retry)
                        continue
                    log.error("%s refused a spooled unit (%s); skipped: %s", self._where, exc, line)
                break
        return True

    def _rewrite(self) -> None:
        """The file holds exactly what is still to replay (no await between the two)."""
        if not self._lines:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        _write(tmp, self._lines, os.O_TRUNC)
        os.replace(tmp, self.path)


def _write(path: Path, lines: list[str], mode: int) -> None:
    """Created 0600 (callers' numbers and words), synced before it counts as written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | mode, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
        f.flush()
        os.fsync(f.fileno())
