"""The centre on the supervisor board: every node's figures (calls now, handled, state) over
the one broker, each node publishing its own; and, with a shared store, the other nodes' queue
and seat events merged into this node's board, so the day's figures count the whole centre
whichever node's console a supervisor opened.

A node's figures go out retained, outside the outbox (`Bus.send_now`): a figure means nothing
later, and the board of a node started after them sees every node at once. A node that stops
says so; one that dies stops publishing, and the board calls it stale after a few seconds and
down after half a minute (the time a dead node's callers take to become callback tickets).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from ivr.bus import Bus, BusError, envelope

log = logging.getLogger(__name__)

NODE_EVERY = 2.0  # seconds between a node's figures
STALE_AFTER = 6.0
DOWN_AFTER = 30.0


class NodeFigures:
    """This node's figures out, every node's figures in. `attach()` before the bus starts."""

    def __init__(
        self,
        bus: Bus,
        name: str,
        figures: Callable[[], dict[str, int]],
        *,
        every: float = NODE_EVERY,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.bus = bus
        self.name = name
        self._figures = figures
        self._every = every
        self._now = now
        self._base = f"{bus.topics.base}/node"
        self._seen: dict[str, dict[str, Any]] = {}  # node -> its latest figures, with "at"
        self._task: asyncio.Task[None] | None = None

    def topic(self, node: str) -> str:
        return f"{self._base}/{node}/status"

    def attach(self) -> None:
        self.bus.subscribe(self.topic("+"), self._on_status)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="node-figures")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(BusError, TimeoutError):  # a clean stop is not a death
            await asyncio.wait_for(self._publish("stopped"), 2.0)

    def nodes(self) -> list[dict[str, Any]]:
        """Every node heard from: name, calls now, calls handled, state (up, stale, down,
        stopped) and the age of its figures in seconds."""
        now = self._now()
        rows = []
        for name, seen in sorted(self._seen.items()):
            age = max(0.0, now - float(seen.get("at", 0.0)))
            state = str(seen.get("state", "up"))
            if state == "up" and age > DOWN_AFTER:
                state = "down"
            elif state == "up" and age > STALE_AFTER:
                state = "stale"
            rows.append(
                {
                    "node": name,
                    "state": state,
                    "calls_now": int(seen.get("calls_now", 0)) if state in ("up", "stale") else 0,
                    "calls_handled": int(seen.get("calls_handled", 0)),
                    "age": round(age, 1),
                    "this": name == self.name,
                }
            )
        return rows

    async def _on_status(self, topic: str, data: dict[str, Any]) -> None:
        node = topic[len(self._base) + 1 :].split("/")[0]
        if node and isinstance(data.get("at"), int | float):
            self._seen[node] = data

    async def _publish(self, state: str) -> None:
        figures = self._figures()
        body = {
            "node": self.name,
            "state": state,
            "calls_now": figures.get("calls_now", 0) if state == "up" else 0,
            "calls_handled": figures.get("calls_handled", 0),
        }
        at = self._now()
        self._seen[self.name] = {**body, "at": at}  # this node's row even with the broker away
        await self.bus.send_now(self.topic(self.name), envelope("node_status", body, at), retain=True)

    async def _run(self) -> None:
        while True:  # ends by cancellation (stop)
            try:
                await self._publish("up")
            except BusError as exc:
                log.debug("node figures not published: %s", exc)
            await asyncio.sleep(self._every)
