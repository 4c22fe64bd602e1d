"""The conference bridge's clock, ticked by the pj thread itself.

pjsua normally drives its conference bridge from a clock thread of its own (the null sound
device's master port). Each tick mixes every port and sends every call's RTP while holding the
bridge's mutex; every pjsua operation on a port (a call's stream added at the answer or removed
at the end, a player created or destroyed, a connect) takes the same mutex. Measured here with
900 calls (py-spy on the pj thread): 62 % of the pj thread's time went to waiting for that mutex,
a single wait reached 0.9 s when the clock thread ran late ticks back to back, and meanwhile no
SIP message was read: INVITE -> 200 OK p99 was 0.3-3 s at 100 calls/s. So the engine detaches
the bridge from any sound device (`pjsua_set_no_snd_dev`) and ticks its master port between
polls on the pj thread: bridge operations and ticks take turns on one thread and never wait for
each other, and an INVITE waits at most for one tick.

pj thread only: create after libStart, tick between libHandleEvents polls.
"""

from __future__ import annotations

import ctypes
import logging
import os
import time
from pathlib import Path

log = logging.getLogger("ivr.sip.engine")

MAX_LATE = 0.1  # further behind than this, the clock skips ahead instead of ticking in a burst
BURST = 5  # most ticks in one go when late


class _Frame(ctypes.Structure):
    """pjmedia_frame (pjmedia/frame.h)."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("buf", ctypes.c_void_p),
        ("size", ctypes.c_size_t),
        ("timestamp", ctypes.c_uint64),
        ("bit_info", ctypes.c_uint32),
    ]


def _lib(name: str) -> ctypes.CDLL:
    import pjsua2

    return ctypes.CDLL(str(Path(os.path.dirname(pjsua2.__file__)) / name))


class BridgeClock:
    """Ticks the conference bridge every `ptime_ms`; `due()` says how long the poll may wait."""

    def __init__(self, clock_rate: int, ptime_ms: int = 20):
        pjsua, pjmedia = _lib("libpjsua.so.2"), _lib("libpjmedia.so.2")
        pjsua.pjsua_set_no_snd_dev.restype = ctypes.c_void_p
        pjsua.pjsua_set_no_snd_dev.argtypes = []
        self._get_frame = pjmedia.pjmedia_port_get_frame
        self._get_frame.restype = ctypes.c_int
        self._get_frame.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Frame)]
        port = pjsua.pjsua_set_no_snd_dev()
        if not port:
            raise RuntimeError("pjsua_set_no_snd_dev returned no bridge port")
        self._port = ctypes.c_void_p(port)
        size = clock_rate * ptime_ms // 1000 * 2  # one frame of 16-bit mono
        self._buf = ctypes.create_string_buffer(size)
        self._frame = _Frame(0, ctypes.cast(self._buf, ctypes.c_void_p), size, 0, 0)
        self._frame_ptr = ctypes.byref(self._frame)
        self.period = ptime_ms / 1000
        self._next = time.monotonic()
        self.ticks = 0
        self.behind_for = 0.0  # seconds the pj thread has kept missing ticks (0: on time)
        self._behind_since = 0.0
        self.skipped = 0  # ticks given up after falling more than MAX_LATE behind

    @property
    def next_tick(self) -> float:
        """When the next tick is due (monotonic): what a port connected now first sends then."""
        return self._next

    def due(self) -> int:
        """Tick whatever is due now; the whole milliseconds until the next tick."""
        now = time.monotonic()
        # one stall (a process starting next door) is not overload; missing tick after tick is
        if now - self._next > 2 * self.period:
            self._behind_since = self._behind_since or now
        else:
            self._behind_since = 0.0
        self.behind_for = now - self._behind_since if self._behind_since else 0.0
        if now - self._next > MAX_LATE:
            missed = int((now - self._next) / self.period)
            self.skipped += missed
            self._next += missed * self.period
        for _ in range(BURST):
            if now < self._next:
                break
            self._frame.size = len(self._buf)
            self._get_frame(self._port, self._frame_ptr)
            self.ticks += 1
            self._next += self.period
            now = time.monotonic()
        return max(0, int((self._next - now) * 1000))
