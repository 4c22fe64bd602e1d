"""When the node gives the heap back: at the end of a burst, then while pjsip's transactions expire."""

from __future__ import annotations

import pytest

from ivr.sip import heap


@pytest.fixture
def trims(monkeypatch: pytest.MonkeyPatch) -> tuple[list[float], list[float]]:
    clock = [1000.0]
    done: list[float] = []
    monkeypatch.setattr(heap.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(heap, "return_memory", lambda: done.append(clock[0]))
    return clock, done


def test_a_burst_is_trimmed_at_its_end_and_until_its_transactions_are_gone(
    trims: tuple[list[float], list[float]],
) -> None:
    clock, done = trims
    h = heap.Heap()
    for live in (10, 200, 600, 400, 160):  # not yet a quarter of the peak
        h.watch(live)
    assert done == []
    h.watch(149)  # the burst is over
    assert done == [1000.0]
    for _ in range(200):  # 100 s of polls every 0.5 s, calls still ending
        clock[0] += 0.5
        h.watch(20)
    # 149 -> 20 is a fall to a quarter again (one more trim at once), then every 15 s for 75 s
    assert [t - 1000.0 for t in done] == [0.0, 0.5, 15.5, 30.5, 45.5, 60.5, 75.5]


def test_an_ordinary_day_never_trims(trims: tuple[list[float], list[float]]) -> None:
    clock, done = trims
    h = heap.Heap()
    for i in range(1000):
        clock[0] += 1
        h.watch(60 + i % 40)  # busy but under TRIM_AFTER calls
    h.watch(0)
    assert done == []
