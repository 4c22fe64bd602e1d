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
