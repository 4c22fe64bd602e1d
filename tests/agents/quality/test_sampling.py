"""The sampling job against a real SQLite store: each rule picks the calls it should and no
other, each operator gets their share of calls per day, a call is queued once with all its
reasons, calls still in their survey wait, and a second run adds nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from agents.quality import Sampler, pick
from ivr.quality import QaSettings
from ivr.records import AnsweredCall, CallRecord
from ivr.store import Store, open_store

DAY = datetime(2026, 11, 30, 8, 0).timestamp()
RULES = QaSettings(share=0.1, long_call_seconds=600.0, settle_minutes=5.0)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_store(tmp_path / "hotline.db")
    yield s
    await s.close()


async def _call(
    store: Store, call_id: str, seat: str, ended: float, talk: float = 120.0, **ticket: object
) -> None:
    t = await store.tickets.create("13800000000", status="open", operator=seat, call_id=call_id, **ticket)
    await store.save_call(
        CallRecord(call_id, "13800000000", ended - talk, answered_at=ended - talk, ended_at=ended,
                   seat_id=seat, ticket_id=t.id)
    )  # fmt: skip


def test_each_operator_gets_the_share_of_each_day() -> None:
    calls = [AnsweredCall(f"a{i}", "1001", "", DAY + i * 60, DAY + i * 60 + 30) for i in range(40)]
    calls += [AnsweredCall(f"b{i}", "1002", "", DAY + i * 60, DAY + i * 60 + 30) for i in range(20)]
    calls += [AnsweredCall(f"n{i}", "1001", "", DAY + 86400 + i, DAY + 86400 + i + 30) for i in range(10)]
    picked = pick(calls, replace(RULES, long_call_seconds=0), DAY + 2 * 86400)
    per_seat = Counter((s.seat_id, s.call_id[0]) for s in picked)
    assert per_seat == {("1001", "a"): 4, ("1002", "b"): 2, ("1001", "n"): 1}
    assert all(s.reasons == ("share",) for s in picked)
    assert pick(calls, replace(RULES, long_call_seconds=0), 0.0) == [
        replace(s, sampled_at=0.0) for s in picked
    ]  # the same calls whenever it runs
    everyone = pick(calls, replace(RULES, share=1.0, long_call_seconds=0), 0.0)
    assert len(everyone) == len(calls)
    assert pick(calls, replace(RULES, share=0.0, long_call_seconds=0), 0.0) == []


async def test_rules_pick_complaints_long_calls_and_unhappy_callers(store: Store) -> None:
    rules = replace(RULES, share=0.0)
    await _call(store, "plain", "1001", DAY + 100)
    await _call(store, "complaint", "1001", DAY + 200, category1="投诉")
    await _call(store, "chose-complaint", "1002", DAY + 300, context={"choices": {"category": "投诉"}})
    await _call(store, "long", "1002", DAY + 400, talk=601.0)
    await _call(store, "unhappy", "1001", DAY + 500, survey={"satisfaction": "不满意"})
    await _call(store, "happy", "1001", DAY + 600, survey={"satisfaction": "满意"})
    await _call(store, "both", "1002", DAY + 700, talk=900.0, category1="投诉")
    await store.save_call(CallRecord("ivr-only", "139", DAY, ended_at=DAY + 800))  # no operator
    sampler = Sampler(store.reviews, rules, now=lambda: DAY + 3600)
    assert await sampler.run_once() == 5
    queued = {s.call_id: s.reasons for s in await store.reviews.queue()}
    assert queued == {
        "complaint": ("complaint",),
        "chose-complaint": ("complaint",),
        "long": ("long",),
        "unhappy": ("low_satisfaction",),
        "both": ("complaint", "long"),
    }
    assert await sampler.run_once() == 0  # idempotent
    off = Sampler(store.reviews, replace(rules, complaints=False, long_call_seconds=0, low_satisfaction=()))
    assert pick(await store.reviews.answered(0, DAY + 3600, 100), off.rules, 0.0) == []


async def test_calls_in_their_survey_wait_and_a_call_is_queued_once(store: Store) -> None:
    clock = [DAY + 1000.0]
    sampler = Sampler(store.reviews, replace(RULES, share=0.0), now=lambda: clock[0])
    await _call(store, "fresh", "1001", DAY + 900, category1="投诉")  # ended 100 s ago: survey may run
    assert await sampler.run_once() == 0
    clock[0] = DAY + 900 + 301
    assert await sampler.run_once() == 1
    share = Sampler(store.reviews, replace(RULES, share=1.0), now=lambda: clock[0])
    assert await share.run_once() == 0  # picked again for its share: still queued once
    assert [(s.call_id, s.reasons) for s in await store.reviews.queue()] == [("fresh", ("complaint",))]
