"""Figures computed from the events of a scripted run."""

from __future__ import annotations

import pytest
from acd_fakes import MakeHarness, seat

from agents.stats import board, queue_figures


async def test_figures_from_events(make: MakeHarness) -> None:
    h = make([seat("a"), seat("b")], wrapup_seconds=10, service_level_seconds=20)
    await h.start("a")
    t0 = h.clock.now()
    h.call("c1")
    h.call("c2")
    h.call("c3")
    await h.advance(10)
    h.tasks["c3"].cancel()  # abandons after 10 s at position 2
    await h.advance(20)  # c1 talked 29 s
    h.acd.call_ended("c1", "operator")
    await h.advance(10 + 1 + 20)  # wrap-up, ring, talk
    h.acd.call_ended("c2", "caller")
    await h.advance(10)
    assert h.clock.now() - t0 == 71
    f = queue_figures("general", h.log.queue, h.log.seat, h.clock.now(), 20)
    assert (f.entered, f.answered, f.abandoned, f.completed, f.waiting) == (3, 2, 1, 2, 0)
    assert f.service_level == 0.5
    assert f.asa == pytest.approx((1 + 41) / 2)
    assert f.abandon_rate == pytest.approx(1 / 3)
    assert f.aht == pytest.approx((29 + 20 + 10 + 10) / 2)


async def test_longest_wait_and_seats_by_state(make: MakeHarness) -> None:
    h = make([seat("a"), seat("b"), seat("c")])
    await h.start()
    h.acd.seat_command("a", "login")
    h.acd.seat_command("a", "not_ready", "break")
    h.call("1")
    await h.advance(30)
    h.call("2")
    await h.advance(15)
    h.acd.seat_command("b", "login")  # takes caller 1 (ringing for 1 s, then talking)
    await h.advance(5)
    b = board(h.log.queue, h.log.seat, {"general": 20}, h.clock.now(), h.acd.seats)
    assert b.queues["general"].waiting == 1
    assert b.queues["general"].longest_wait == 20
    assert b.queues["general"].service_level == 0.0
    assert b.seats_by_state == {
        "logged_out": 1,
        "ready": 0,
        "not_ready": 1,
        "ringing": 0,
        "talking": 1,
        "wrap_up": 0,
    }
