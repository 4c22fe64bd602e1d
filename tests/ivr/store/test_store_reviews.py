"""Quality checks (质检) on both stores: the answered calls sampling reads with their tickets'
complaint and survey facts, a call queued once, reviews kept as history, one appeal per call
on every node, one decision, and the figures' SQL sums per seat over a date range."""

from __future__ import annotations

import asyncio

from ivr.records import Appeal, CallRecord, Review, Sample
from ivr.store import Store


async def _call(store: Store, call_id: str, seat: str, ended: float, **ticket: object) -> str:
    t = await store.tickets.create("13800000000", status="open", operator=seat, call_id=call_id, **ticket)
    await store.save_call(
        CallRecord(call_id, "13800000000", ended - 300, answered_at=ended - 300, ended_at=ended,
                   seat_id=seat, ticket_id=t.id, path=("main:greeting", "main:operator"))
    )  # fmt: skip
    return t.id


def _review(call_id: str, seat: str, score: float, ended: float, fatal: tuple[str, ...] = ()) -> Review:
    return Review(0, call_id, seat, "", "supervisor", ended + 10, ended, score, {"greeting": 5}, fatal, "ok")


async def test_answered_calls_carry_their_tickets_facts(store: Store) -> None:
    await _call(store, "c1", "1001", 1000.0, category1="投诉")
    await _call(
        store,
        "c2",
        "1002",
        1100.0,
        context={"choices": {"category": "投诉"}},
        survey={"satisfaction": "不满意"},
    )
    await store.save_call(CallRecord("ivr-only", "139", 900.0, ended_at=1050.0))  # never reached a seat
    calls = await store.reviews.answered(0.0, 2000.0, 100)
    assert [(c.call_id, c.seat_id, c.category1, c.choice, c.satisfaction) for c in calls] == [
        ("c1", "1001", "投诉", "", ""),
        ("c2", "1002", "", "投诉", "不满意"),
    ]
    assert calls[0].ended_at - calls[0].answered_at == 300.0
    assert [c.call_id for c in await store.reviews.answered(1050.0, 2000.0, 100)] == ["c2"]
    assert [c.call_id for c in await store.reviews.answered(0.0, 2000.0, 1)] == ["c1"]


async def test_a_call_is_queued_once_and_leaves_the_queue_when_scored(store: Store) -> None:
    first = Sample("c1", "1001", "t1", 1000.0, ("complaint",), 2000.0)
    assert await store.reviews.add_samples([first]) == 1
    again = Sample("c1", "1001", "t1", 1000.0, ("share",), 3000.0)
    assert await store.reviews.add_samples([again, Sample("c2", "1002", "", 900.0, ("long",), 3000.0)]) == 1
    queued = await store.reviews.queue()
    assert [(s.call_id, s.reasons) for s in queued] == [("c2", ("long",)), ("c1", ("complaint",))]
    kept = await store.reviews.add_review(_review("c1", "1001", 90.0, 1000.0))
    assert kept.id > 0 and kept.score == 90.0 and dict(kept.marks) == {"greeting": 5}
    assert [s.call_id for s in await store.reviews.queue()] == ["c2"]
    assert [s.call_id for s in await store.reviews.queue("reviewed")] == ["c1"]
    await store.reviews.add_review(_review("c1", "1001", 70.0, 1000.0, ("rude",)))
    history = await store.reviews.reviews("c1")
    assert [(r.score, r.fatal) for r in history] == [(90.0, ()), (70.0, ("rude",))]
    assert [r.score for r in await store.reviews.scores("1001", 0.0, 5000.0)] == [70.0]
    assert await store.reviews.scores("1002", 0.0, 5000.0) == []


async def test_one_appeal_per_call_and_one_decision(store: Store) -> None:
    await store.reviews.add_samples([Sample("c1", "1001", "", 1000.0, ("share",), 2000.0)])
    review = await store.reviews.add_review(_review("c1", "1001", 50.0, 1000.0))
    appeal = Appeal("c1", "1001", review.id, "录音中已告知办理时限", 3000.0)
    results = await asyncio.gather(*(store.reviews.add_appeal(appeal) for _ in range(4)))
    assert sorted(results) == [False, False, False, True]
    assert [a.call_id for a in await store.reviews.appeals()] == ["c1"]
    assert [a.reason for a in await store.reviews.appeals_for(["c0", "c1", "c2"])] == ["录音中已告知办理时限"]
    revised = _review("c1", "1001", 85.0, 1000.0)
    decided = await asyncio.gather(
        store.reviews.decide("c1", "revised", "supervisor", "确已告知", revised),
        store.reviews.decide("c1", "upheld", "supervisor", "维持", None),
    )
    winners = [d for d in decided if d is not None]
    assert len(winners) == 1
    assert await store.reviews.appeals() == []
    kept = await store.reviews.appeal("c1")
    assert kept is not None and kept.decision == winners[0].decision and kept.decided_by == "supervisor"
    scores = [r.score for r in await store.reviews.reviews("c1")]
    assert scores == ([50.0, 85.0] if kept.decision == "revised" else [50.0])


async def test_figures_sum_each_seats_latest_scores_in_the_range(store: Store) -> None:
    samples = [Sample(f"c{i}", seat, "", ended, ("share",), 0.0) for i, (seat, ended) in
               enumerate((("1001", 100.0), ("1001", 200.0), ("1002", 300.0), ("1001", 9000.0)))]  # fmt: skip
    await store.reviews.add_samples(samples)
    await store.reviews.add_review(_review("c0", "1001", 40.0, 100.0))
    await store.reviews.add_review(_review("c0", "1001", 90.0, 100.0))  # only the latest counts
    await store.reviews.add_review(_review("c1", "1001", 0.0, 200.0, ("leak",)))
    await store.reviews.add_review(_review("c2", "1002", 75.0, 300.0))
    await store.reviews.add_review(_review("c3", "1001", 10.0, 9000.0))  # outside the range
    reviews = await store.reviews.reviews("c1")
    await store.reviews.add_appeal(Appeal("c1", "1001", reviews[-1].id, "并未泄露", 400.0))
    figures = {f.seat_id: f for f in await store.reviews.figures(0.0, 1000.0, pass_score=80.0)}
    a, b = figures["1001"], figures["1002"]
    assert (a.reviews, a.score_sum, a.fatal, a.appeals, a.below_pass, a.average) == (2, 90.0, 1, 1, 1, 45.0)
    assert (b.reviews, b.score_sum, b.fatal, b.appeals, b.below_pass) == (1, 75.0, 0, 0, 1)
