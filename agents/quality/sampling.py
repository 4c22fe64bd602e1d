"""Which calls go to the review queue (质检抽样), run like housekeeping: every few minutes the
calls operators answered that ended since the start of the look-back are read, each one that a
rule picks is queued with every reason that applies, and the store's one row per call makes a
second run add nothing. What a rule decides depends only on the call and its day, never on
when the job ran, so a restarted node or a second node picks the same calls.

The share is per operator and day: an operator's k-th call of a day is picked when
floor(share*k + offset) steps up, with an offset drawn from the seat and the day, so exactly a
share of each operator's calls is reviewed, spread through the day where nobody can predict it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime

from ivr.quality import QaSettings
from ivr.records import AnsweredCall, Sample, SampleReason
from ivr.store import ReviewBook

log = logging.getLogger(__name__)


def _offset(seat_id: str, day: str) -> float:
    digest = hashlib.sha256(f"{seat_id}|{day}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def _day(at: float) -> str:
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d")  # the centre's local day


def pick(calls: Sequence[AnsweredCall], rules: QaSettings, at: float) -> list[Sample]:
    """The calls the rules send to review, each once with all its reasons. `calls` must hold
    every call of each day they cover, oldest first (the share counts calls per operator)."""
    seen: dict[tuple[str, str], int] = defaultdict(int)
    picked: list[Sample] = []
    for call in calls:
        reasons: list[SampleReason] = []
        day = _day(call.ended_at)
        seen[(call.seat_id, day)] += 1
        k = seen[(call.seat_id, day)]
        offset = _offset(call.seat_id, day)
        if rules.share > 0 and math.floor(rules.share * k + offset) > math.floor(
            rules.share * (k - 1) + offset
        ):
            reasons.append("share")
        categories = rules.complaint_categories
        if rules.complaints and (call.category1 in categories or call.choice in categories):
            reasons.append("complaint")
        if rules.long_call_seconds > 0 and call.ended_at - call.answered_at > rules.long_call_seconds:
            reasons.append("long")
        if call.satisfaction and call.satisfaction in rules.low_satisfaction:
            reasons.append("low_satisfaction")
        if reasons:
            picked.append(
                Sample(call.call_id, call.seat_id, call.ticket_id, call.ended_at, tuple(reasons), at)
            )
    return picked


def day_start(at: float) -> float:
    """Local midnight of the day `at` falls in."""
    d = datetime.fromtimestamp(at)
    return datetime(d.year, d.month, d.day).timestamp()


class Sampler:
    """Fills the review queue from the call records; `run()` is its task."""

    def __init__(self, book: ReviewBook, rules: QaSettings, now: Callable[[], float] = time.time) -> None:
        self.book = book
        self.rules = rules
        self.now = now

    async def run_once(self) -> int:
        """Queue the calls the rules pick; returns how many calls were new to the queue."""
        now = self.now()
        until = now - self.rules.settle_minutes * 60.0  # the survey comes after the call ends
        since = day_start(until - (self.rules.lookback_days - 1) * 86400.0)
        calls = await self.book.answered(since, until, self.rules.max_per_run)
        added = await self.book.add_samples(pick(calls, self.rules, now))
        if added:
            log.info("quality checks: %d call(s) queued for review", added)
        return added

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("quality sampling failed; trying again next round")
            await asyncio.sleep(self.rules.every_minutes * 60.0)
