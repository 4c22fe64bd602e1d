"""Giving the heap back after a burst of calls.

glibc keeps freed memory in the process: after 300 calls/s for 10 s the heap held 289 MB free but
resident. `malloc_trim` returns it, but only what is free by then, and pjsip keeps an ended
call's transactions and their pools for up to 64 x T1 = 32 s (Timer J of the BYE over UDP; Timer
H of a 503 never ACKed): measured, the heap in use fell from 144 MB when the calls were over to
its 22 MB baseline only 45 s later. So the heap is trimmed once calls fall to a quarter of a
burst's peak, and again every TRIM_EVERY seconds until TRIM_FOR after it.

pj thread only (`Heap.watch` between polls).
"""

from __future__ import annotations

import ctypes
import logging
import time

log = logging.getLogger("ivr.sip.engine")

TRIM_AFTER = 100  # live calls from which a fall to a quarter gives memory back
TRIM_EVERY = 15.0
TRIM_FOR = 75.0


def return_memory() -> None:
    """Give the heap's free pages back to the system (glibc malloc_trim). After a burst the freed
    call objects, pools and buffers stay in the process otherwise: 300 calls/s for 10 s left the
    heap 289 MB free but resident (bench/calls.py --rate 300 --after 20 --settle 75). A trim of
    an idle heap took 2-7 ms here."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class Heap:
    def __init__(self) -> None:
        self._peak = 0  # most live calls since the heap was last trimmed
        self._trims: list[float] = []  # when to trim again after a burst (monotonic), soonest last

    def watch(self, live: int) -> None:
        """Called between polls with the live calls; trims when a burst is over and after it."""
        self._peak = max(self._peak, live)
        if self._peak >= TRIM_AFTER and live < self._peak // 4:  # a burst is over
            self._peak = live
            now = time.monotonic()
            self._trim()
            steps = int(TRIM_FOR // TRIM_EVERY)
            self._trims = [now + TRIM_EVERY * i for i in range(steps, 0, -1)]
        elif self._trims and time.monotonic() >= self._trims[-1]:
            self._trims.pop()
            self._trim()

    @staticmethod
    def _trim() -> None:
        started = time.monotonic()
        return_memory()
        log.debug("heap trimmed in %.1f ms", 1000 * (time.monotonic() - started))
