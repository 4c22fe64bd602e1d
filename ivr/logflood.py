"""Log lines about per-request events (a refused INVITE, a foreign OPTIONS) at most once a
second per kind, with the count of those left out.

A flood must not become a flood of log lines: 5,000 INVITEs from a forbidden address once wrote
5,001 lines. The first event of a kind is logged at once (an admin sees the cause straight
away); the ones that follow within `interval` are counted and reported with the next line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class Throttle:
    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        max_kinds: int = 64,
    ) -> None:
        self._log = logger
        self.interval = interval
        self._clock = clock
        self._max_kinds = max_kinds  # kinds are a few fixed strings; bounded all the same
        self._state: dict[str, tuple[float, int]] = {}  # kind -> (logged at, left out since)

    def log(self, level: int, kind: str, msg: str, *args: object) -> bool:
        """Log msg % args unless `kind` was logged within the interval; True when logged."""
        now = self._clock()
        at, left_out = self._state.get(kind, (float("-inf"), 0))
        if now - at < self.interval:
            self._state[kind] = (at, left_out + 1)
            return False
        if kind not in self._state and len(self._state) >= self._max_kinds:
            self._state.clear()
        self._state[kind] = (now, 0)
        if left_out:
            msg += " (%d more like it in the last %.0f s)"
            args = (*args, left_out, now - at)
        self._log.log(level, msg, *args)
        return True
