"""Hot spots: the third call about one problem at one place within the window is a pattern."""

from __future__ import annotations

from ivr.records import Understanding
from ivr.understanding.hotspots import HotSpots, key_of

CRACK = "住房保障/房屋质量/墙体开裂"
PEEL = "住房保障/房屋质量/外墙脱落"


def said(compound: str, category: str, urgent: bool = False) -> Understanding:
    return Understanding(
        "…",
        "求助",
        0.9,
        urgent=urgent,
        categories=(category,),
        place={"district": "朝阳区", "compound": compound},
    )


def test_third_call_about_one_place_and_problem_makes_a_hot_spot() -> None:
    spots = HotSpots(window=3600, threshold=3)
    assert spots.note("c1", said("花家地小区", CRACK), 0) is None
    assert spots.note("c2", said("花家地小区", PEEL), 600) is None  # same second level: 房屋质量
    spot = spots.note("c3", said("花家地小区", CRACK, urgent=True), 1200)
    assert spot is not None
    assert (spot.place, spot.category, spot.calls) == ("花家地小区", "住房保障/房屋质量", ("c1", "c2", "c3"))
    assert spot.urgent and (spot.first, spot.last) == (0, 1200)
    grown = spots.note("c4", said("花家地小区", CRACK), 1300)
    assert grown is not None and len(grown.calls) == 4


def test_one_call_counts_once_and_old_calls_expire() -> None:
    spots = HotSpots(window=3600, threshold=2)
    assert spots.note("c1", said("望京西园", CRACK), 0) is None
    assert spots.note("c1", said("望京西园", CRACK), 10) is None  # the same caller, asked again
    assert spots.note("c2", said("望京西园", CRACK), 5000) is None  # c1 is out of the window
    assert [s.calls for s in spots.current(5000)] == []
    assert spots.note("c3", said("望京西园", CRACK), 5100) is not None
    assert [s.calls for s in spots.current(5100)] == [("c2", "c3")]
    assert spots.current(20000) == []


def test_other_places_and_problems_do_not_mix() -> None:
    spots = HotSpots(threshold=2)
    spots.note("c1", said("花家地小区", CRACK), 0)
    assert spots.note("c2", said("安贞里小区", CRACK), 1) is None
    assert spots.note("c3", said("花家地小区", "环境保护/大气污染/餐饮油烟"), 2) is None


def test_a_call_without_place_or_category_is_not_counted() -> None:
    assert key_of(Understanding("…", "投诉", categories=(CRACK,))) is None
    assert key_of(Understanding("…", "投诉", place={"district": "朝阳区"})) is None
    assert key_of(said("花家地小区", CRACK)) == ("花家地小区", "住房保障/房屋质量")


def test_a_hot_spot_knows_the_tickets_drafted_for_its_calls() -> None:
    told: list[tuple[int, tuple[str, ...]]] = []
    spots = HotSpots(window=3600, threshold=3, on_change=lambda s: told.append((len(s.calls), s.tickets)))
    spots.note("c1", said("花家地小区", CRACK), 0)
    assert spots.link("c1", "T1") is None  # one call is not a hot spot yet
    spots.note("c2", said("花家地小区", PEEL), 60)
    spots.link("c2", "T2")
    assert told == []
    spot = spots.note("c3", said("花家地小区", CRACK), 120)
    assert spot is not None and spot.tickets == ("T1", "T2")
    assert spots.of_call("c3") == spot and spots.of_call("c9") is None
    linked = spots.link("c3", "T3")
    assert linked is not None and linked.tickets == ("T1", "T2", "T3")
    assert told == [(3, ("T1", "T2")), (3, ("T1", "T2", "T3"))]
    assert spots.link("c3", "T3") == linked and len(told) == 2  # the same link again tells nobody
    assert spots.get("花家地小区|住房保障/房屋质量", 200) == linked
    assert linked.as_dict()["id"] == "花家地小区|住房保障/房屋质量"


def test_an_expired_call_leaves_its_cluster_with_its_ticket() -> None:
    spots = HotSpots(window=3600, threshold=2)
    spots.note("c1", said("望京西园", CRACK), 0, ticket_id="T1")
    spots.note("c2", said("望京西园", CRACK), 100, ticket_id="T2")
    assert [s.tickets for s in spots.current(200)] == [("T1", "T2")]
    assert spots.current(3650) == []  # c1 left: one call is no hot spot
    assert spots.link("c1", "T1b") is None and spots.of_call("c1") is None
    assert spots.get("望京西园|住房保障/房屋质量", 3650) is None
