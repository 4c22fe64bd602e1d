"""Quality checks (质检): the [qa] settings (which calls are sampled for review) and the checklist
file the centre keeps, read with positions by `ivr.checklist`. `ivr.config` checks both at start;
`agents.quality` uses them.

The checklist's format (read by `ivr.checklist`, flows/quality/checklist.yaml):

    name: 12345热线通话质检评分表
    version: "2026-11"
    pass_score: 80              # scores below this count as failed in the figures
    items:                      # weights are points; a review's score is out of 100
      - {id: greeting, name: 开场规范, weight: 10, description: 使用标准开场白}
    fatal:                      # 差错: one caps the whole score (at 0 unless `score` says)
      - {id: leak, name: 泄露来电人信息, score: 0}
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.configcheck import POSITIVE, POSITIVE_SECONDS, SECONDS, Rule, checked


@dataclass(frozen=True)
class QaSettings:
    """Which calls answered by an operator go to the review queue, and how often that is looked at."""

    checklist: str = ""  # the checklist file, relative to this config file; "": reviews cannot be scored
    share: float = checked(0.05, Rule("a share from 0 to 1 (0.05 = 5%)", lambda v: 0 <= v <= 1))
    complaints: bool = True  # every call whose ticket is a complaint
    complaint_categories: tuple[str, ...] = ("投诉",)  # the ticket's first level, or the caller's choice
    long_call_seconds: float = checked(900.0, SECONDS)  # the whole call, answer to hang-up (0: off)
    low_satisfaction: tuple[str, ...] = ("不满意",)  # survey answers that send the call to review
    every_minutes: float = checked(10.0, POSITIVE_SECONDS)
    settle_minutes: float = checked(5.0, SECONDS)  # a call's survey comes after it ends
    lookback_days: int = checked(2, Rule("a whole number of days from 1 to 31", lambda v: 1 <= v <= 31))
    max_per_run: int = checked(200000, POSITIVE)  # calls looked at per run at most, oldest first
