"""Quality checks (质检) of operators' calls: the checklist a centre scores against, a call in the
review queue with why it was sampled, a reviewer's scores, an operator's appeal, and the
figures per operator.

A review is never overwritten: saving again, or deciding an appeal with new scores, adds a
row; the newest row of a call is its score, the older ones are its history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

SampleReason = Literal["share", "complaint", "long", "low_satisfaction", "manual"]
SAMPLE_REASONS: tuple[SampleReason, ...] = ("share", "complaint", "long", "low_satisfaction", "manual")
SampleState = Literal["queued", "reviewed"]
AppealDecision = Literal["", "upheld", "revised"]  # "" while the supervisor has not decided
APPEAL_DECISIONS: tuple[str, ...] = ("upheld", "revised")


class ScoreError(ValueError):
    """Marks that do not fit the checklist: an unknown item or error, or points out of range."""


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    name: str
    weight: float  # the most points the item gives
    description: str = ""


@dataclass(frozen=True)
class FatalError:
    """A 差错: one is enough to cap the whole score at `score` (0 by default)."""

    id: str
    name: str
    score: float = 0.0
    description: str = ""


@dataclass(frozen=True)
class Checklist:
    name: str
    version: str
    items: tuple[ChecklistItem, ...]
    fatal: tuple[FatalError, ...] = ()
    pass_score: float = 60.0

    @property
    def label(self) -> str:
        """What a review keeps of the checklist it was scored against."""
        return f"{self.name} {self.version}".strip()

    def score(self, marks: Mapping[str, float], fatal: tuple[str, ...] = ()) -> float:
        """Points given over points possible, out of 100, capped by the lowest cap of the fatal
        errors found. Every item must be marked, from 0 to its weight; ScoreError otherwise."""
        items = {i.id: i for i in self.items}
        errors = {f.id: f for f in self.fatal}
        unknown = sorted(set(marks) - set(items))
        if unknown:
            raise ScoreError(f"检查项不存在：{', '.join(unknown)}")
        missing = [i.name for i in self.items if i.id not in marks]
        if missing:
            raise ScoreError(f"以下检查项未评分：{'、'.join(missing)}")
        for item_id, points in marks.items():
            weight = items[item_id].weight
            if isinstance(points, bool) or not isinstance(points, int | float) or not 0 <= points <= weight:
                raise ScoreError(f"“{items[item_id].name}”的得分应在 0 到 {weight:g} 之间")
        bad = sorted(set(fatal) - set(errors))
        if bad:
            raise ScoreError(f"差错项不存在：{', '.join(bad)}")
        total = sum(i.weight for i in self.items)
        score = 100.0 * sum(float(marks[i.id]) for i in self.items) / total
        for error_id in fatal:
            score = min(score, errors[error_id].score)
        return round(score, 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "pass_score": self.pass_score,
            "items": [vars(i) for i in self.items],
            "fatal": [vars(f) for f in self.fatal],
        }


@dataclass(frozen=True)
class Sample:
    """A call in the review queue, sampled once whatever the number of reasons."""

    call_id: str
    seat_id: str
    ticket_id: str
    ended_at: float  # when the call ended: the figures' date range is over this
    reasons: tuple[SampleReason, ...]
    sampled_at: float
    state: SampleState = "queued"


@dataclass(frozen=True)
class Review:
    id: int  # 0 until the store keeps it
    call_id: str
    seat_id: str
    ticket_id: str
    reviewer: str  # "supervisor" or the reviewer's sign-in
    at: float
    ended_at: float  # the call's, copied from its sample
    score: float
    marks: Mapping[str, float] = field(default_factory=dict)
    fatal: tuple[str, ...] = ()
    comment: str = ""
    checklist: str = ""  # the checklist's label when scored
    after_appeal: bool = False  # a supervisor's new scores on deciding an appeal

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["marks"], out["fatal"] = dict(self.marks), list(self.fatal)
        return out


@dataclass(frozen=True)
class Appeal:
    """An operator's one appeal (申诉) against a call's score, and the supervisor's decision."""

    call_id: str
    seat_id: str
    review_id: int  # the review appealed against
    reason: str
    at: float
    decision: AppealDecision = ""
    decided_by: str = ""
    decided_at: float = 0.0
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class SeatFigures:
    """One operator's reviews over a date range, as sums (a team's are their sums)."""

    seat_id: str
    reviews: int = 0
    score_sum: float = 0.0
    fatal: int = 0  # reviews with at least one 差错
    appeals: int = 0
    appeals_revised: int = 0
    below_pass: int = 0

    @property
    def average(self) -> float | None:
        return round(self.score_sum / self.reviews, 1) if self.reviews else None

    def plus(self, other: SeatFigures) -> SeatFigures:
        return SeatFigures(
            self.seat_id,
            self.reviews + other.reviews,
            self.score_sum + other.score_sum,
            self.fatal + other.fatal,
            self.appeals + other.appeals,
            self.appeals_revised + other.appeals_revised,
            self.below_pass + other.below_pass,
        )


@dataclass(frozen=True)
class AnsweredCall:
    """What sampling needs to know of a call an operator answered, and of its ticket."""

    call_id: str
    seat_id: str
    ticket_id: str
    answered_at: float
    ended_at: float
    category1: str = ""  # the ticket's first level
    choice: str = ""  # what the caller chose in the menu (the flow's `category`)
    satisfaction: str = ""  # the survey's answer
