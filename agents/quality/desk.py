"""Scoring, appeals and decisions on calls in quality review, with the rules every channel
keeps: a call is scored against the checklist in force; once its operator appeals, only the
appeal's decision changes its score; an operator appeals a scored call of their own once, with
a reason; a decision is taken once. Who may do what is the console's to check (agents.web.quality)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from ivr.records import APPEAL_DECISIONS, Appeal, Checklist, Review, Sample, ScoreError
from ivr.store import Store

log = logging.getLogger(__name__)


class QualityError(Exception):
    """A refused step, with the HTTP status it maps to and a message for the person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class QualityDesk:
    def __init__(
        self, store: Store, checklist: Checklist | None, now: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.checklist = checklist
        self.now = now

    async def sample(self, call_id: str) -> Sample:
        sample = await self.store.reviews.sample(call_id)
        if sample is None:
            raise QualityError(404, f"通话 {call_id} 不在质检范围内")
        return sample

    def _scored(
        self, sample: Sample, marks: Mapping[str, Any], fatal: Any, comment: str, by: str, after_appeal: bool
    ) -> Review:
        if self.checklist is None:
            raise QualityError(503, "未配置质检评分表（config.toml [qa] checklist），无法评分")
        if not isinstance(marks, Mapping) or not isinstance(fatal, list | tuple):
            raise QualityError(400, "marks 应为对象（检查项 -> 得分），fatal 应为差错项列表")
        if not all(isinstance(f, str) for f in fatal):
            raise QualityError(400, "fatal 应为差错项编号的列表")
        found = tuple(dict.fromkeys(fatal))
        try:
            score = self.checklist.score(marks, found)
        except ScoreError as exc:
            raise QualityError(400, str(exc)) from exc
        return Review(
            0, sample.call_id, sample.seat_id, sample.ticket_id, by, self.now(), sample.ended_at, score,
            {k: float(v) for k, v in marks.items()}, found, comment, self.checklist.label, after_appeal,
        )  # fmt: skip

    async def review(
        self, call_id: str, marks: Mapping[str, Any], fatal: Any, comment: str, *, by: str
    ) -> Review:
        """Score a call (again, until its operator appeals: every save is kept as history)."""
        sample = await self.sample(call_id)
        if await self.store.reviews.appeal(call_id) is not None:
            raise QualityError(409, "该通话的评分已被申诉，请在申诉处理中改判或维持")
        review = await self.store.reviews.add_review(self._scored(sample, marks, fatal, comment, by, False))
        log.info("quality: call %s of seat %s scored %.1f by %s", call_id, sample.seat_id, review.score, by)
        return review

    async def appeal(self, call_id: str, seat_id: str, reason: str) -> Appeal:
        """The operator's one appeal against their call's score."""
        sample = await self.sample(call_id)
        if sample.seat_id != seat_id:
            raise QualityError(403, "只能申诉本人通话的质检结果")
        reviews = await self.store.reviews.reviews(call_id)
        if not reviews:
            raise QualityError(409, "该通话尚未评分，不能申诉")
        if not reason.strip():
            raise QualityError(400, "请填写申诉理由")
        appeal = Appeal(call_id, seat_id, reviews[-1].id, reason.strip(), self.now())
        if not await self.store.reviews.add_appeal(appeal):
            raise QualityError(409, "每条质检结果只能申诉一次，该通话已申诉")
        log.info("quality: seat %s appealed the score of call %s", seat_id, call_id)
        return appeal

    async def decide(
        self,
        call_id: str,
        decision: str,
        note: str,
        *,
        by: str,
        marks: Mapping[str, Any] | None = None,
        fatal: Any = (),
        comment: str = "",
    ) -> tuple[Appeal, Review]:
        """Uphold the score (维持) or change it (改判, with new marks); returns the decided appeal
        and the call's score after it."""
        if decision not in APPEAL_DECISIONS:
            raise QualityError(400, "decision 应为 upheld（维持原评分）或 revised（改判）")
        sample = await self.sample(call_id)
        appeal = await self.store.reviews.appeal(call_id)
        if appeal is None:
            raise QualityError(404, "该通话没有申诉")
        if not note.strip():
            raise QualityError(400, "请填写处理意见")
        review = None
        if decision == "revised":
            if marks is None:
                raise QualityError(400, "改判需要重新评分（marks）")
            review = self._scored(sample, marks, fatal, comment, by, True)
        decided = await self.store.reviews.decide(call_id, decision, by, note.strip(), review)
        if decided is None:
            raise QualityError(409, "该申诉已处理")
        log.info("quality: appeal on call %s %s by %s", call_id, decision, by)
        return decided, (await self.store.reviews.reviews(call_id))[-1]
