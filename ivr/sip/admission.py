"""Which INVITEs the node takes: trunk addresses only (ivr.sip.guard refuses the others first),
one call per Call-ID, and 503 with Retry-After at the call limit or while the pj thread runs
behind.

A carrier's trunk (or the Kamailio front of a cluster) fails over to another node on 503, but
waits, retransmits and finally gives up on an INVITE answered seconds late: measured here before
the bridge clock moved onto the pj thread, calls past ~55/s were answered 2-11 s late and callers
heard silence. So the engine tells `Admission` how long its pj thread has kept missing bridge
ticks (`behind`); past `overload_ms`, new INVITEs get 503 at once for the next second. A single
stall does not count: the first bench run with "one late tick" as the signal refused 181 calls
for a 0.3 s hiccup while a process started next door. The answer is built with
pjsua2's own objects, so: pj thread only (ivr.sip.engine's incoming-call callback).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection

import pjsua2 as pj

from ivr.logflood import Throttle
from ivr.sip.guard import AllowList
from ivr.sip.pjcall import PjCall

log = logging.getLogger("ivr.sip.engine")

OVERLOAD_HOLD = 1.0  # seconds new INVITEs keep getting 503 after the pj thread ran behind


class Admission:
    def __init__(self, allow: Collection[str] | None, overload_ms: int, retry_after: int) -> None:
        self.allow = AllowList(allow)  # None: INVITEs from anywhere (softphones)
        self.overload_ms = overload_ms  # 0: never refuse for lateness
        self.retry_after = retry_after
        self.rejected = 0  # INVITEs answered 503 since start (read by the loop for figures)
        self._overloaded_until = 0.0
        self._throttle = Throttle(log)  # a burst must not become a burst of log lines

    def behind(self, seconds: float) -> None:
        """The pj thread has been missing its bridge ticks for this long."""
        if self.overload_ms and seconds * 1000 > self.overload_ms:
            self._overloaded_until = time.monotonic() + OVERLOAD_HOLD

    def verdict(self, source: str, dialled: str, duplicate: bool, calls: int, limit: int) -> int:
        """0 to take the call, else the status to refuse it with (logged here)."""
        host = source.rsplit(":", 1)[0].strip("[]")
        if not self.allow.allows(host):
            self._throttle.log(
                logging.WARNING, "403", "INVITE from %s rejected with 403: not a trunk address", source
            )
            return 403
        if duplicate:  # our own dial came back to us: one id must name one call
            self._throttle.log(
                logging.WARNING, "482", "INVITE from %s rejected with 482: its Call-ID is ours", source
            )
            return 482
        if calls >= limit:  # 503, not pjsua's own 486: a proxy in front fails over on it
            return self._busy(source, f"at the call limit ({limit})")
        if time.monotonic() < self._overloaded_until:
            return self._busy(source, f"overloaded (SIP thread over {self.overload_ms} ms behind)")
        return 0

    def refuse(self, call: PjCall, status: int) -> None:
        """Answer the INVITE with status; a 503 carries Retry-After (hangup would drop headers)."""
        call.silent = True
        op = pj.CallOpParam()
        op.statusCode = status
        if status == 503:
            retry = pj.SipHeader()
            retry.hName = "Retry-After"
            retry.hValue = str(self.retry_after)
            op.txOption.headers.append(retry)
            call.answer(op)
        else:
            call.hangup(op)

    def _busy(self, source: str, why: str) -> int:
        """503, logged once a second at most with the count of the others."""
        self.rejected += 1
        self._throttle.log(logging.WARNING, why, "INVITE from %s rejected with 503: %s", source, why)
        return 503
