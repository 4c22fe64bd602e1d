"""Queue behaviour: priority, no-answer, wrap-up, abandon, limits, announcements, callback."""

from __future__ import annotations

import asyncio

import pytest
from acd_fakes import MakeHarness, seat

from agents.seat import SeatError
from ivr.control import CallerHangup
from ivr.records import QueueEventKind as K
from ivr.records import SeatState


async def test_urgent_caller_jumps_ahead_of_earlier_callers(make: MakeHarness) -> None:
    h = make([seat("a")])
    await h.start()
    h.call("early1")
    h.call("early2")
    await h.advance(5)
    h.call("urgent", priority=5)
    await h.advance(1)
    h.acd.seat_command("a", "login")
    await h.advance(1)
    assert h.line.rings == [("a", "urgent")]
    assert [e.call_id for e in h.acd.waiting()] == ["early1", "early2"]


async def test_unanswered_caller_goes_back_to_the_front_and_seat_goes_not_ready_after_misses(
    make: MakeHarness,
) -> None:
    h = make([seat("a"), seat("b")], max_no_answer=2, ring_timeout=10)
    await h.start("a")
    h.line.script = {"a": ["no_answer", "no_answer"]}
    h.call("first")
    await h.advance(1)
    h.call("second")
    await h.advance(10)  # a did not answer "first": a is ready again (1 miss), first is at the front
    assert h.kinds("first") == [K.ENTERQUEUE, K.OFFER, K.RINGNOANSWER, K.OFFER]
    assert h.line.rings == [("a", "first"), ("a", "first")]
    await h.advance(10)  # second miss in a row
    assert h.state("a") == "not_ready"
    assert h.acd.seats["a"].reason == "no_answer"
    assert [e.call_id for e in h.acd.waiting()] == ["first", "second"]
    h.acd.seat_command("b", "login")
    await h.advance(1)
    assert h.line.rings[-1] == ("b", "first")
    assert h.kinds("first")[-1] == K.CONNECT


async def test_busy_counts_as_a_miss_and_prefers_another_seat(make: MakeHarness) -> None:
    h = make([seat("a"), seat("b")], max_no_answer=3)
    await h.start("a", "b")  # a idle longest
    h.line.script = {"a": ["busy"]}
    h.call("1")
    await h.advance(2)
    assert h.line.seats_rung() == ["a", "b"]
    assert h.acd.seats["a"].misses == 1
    assert h.state("a") == "ready"


async def test_wrapup_holds_the_next_caller_until_it_ends_and_is_logged(make: MakeHarness) -> None:
    h = make([seat("a")], wrapup_seconds=20)
    await h.start("a")
    h.call("1")
    await h.advance(31)
    assert h.acd.call_ended("1", "operator")
    assert (await h.result("1")).outcome == "operator_hangup"
    h.call("2")
    await h.advance(19)
    assert h.state("a") == "wrap_up"
    assert h.line.seats_rung() == ["a"]
    await h.advance(1)
    assert h.line.rings[-1] == ("a", "2")
    ends = [e for e in h.log.seat if e.previous is SeatState.WRAP_UP]
    assert [(e.duration, e.call_id, e.state) for e in ends] == [(20.0, "1", SeatState.READY)]


async def test_operator_may_end_wrapup_early(make: MakeHarness) -> None:
    h = make([seat("a")], wrapup_seconds=60)
    await h.start("a")
    h.call("1")
    await h.advance(2)
    h.acd.call_ended("1", "caller")
    assert (await h.result("1")).outcome == "completed"
    h.call("2")
    await h.advance(5)
    assert h.line.seats_rung() == ["a"]
    h.acd.seat_command("a", "end_wrapup")
    await h.advance(1)
    assert h.line.seats_rung() == ["a", "a"]
    assert [e.duration for e in h.log.seat if e.previous is SeatState.WRAP_UP] == [5.0]
    with pytest.raises(SeatError):
        h.acd.seat_command("a", "end_wrapup")  # it is talking now


async def test_seat_wrapup_override_wins_over_queue(make: MakeHarness) -> None:
    from dataclasses import replace

    h = make([replace(seat("a"), wrapup_seconds=3.0)], wrapup_seconds=60)
    await h.start("a")
    h.call("1")
    await h.advance(2)
    h.acd.call_ended("1", "operator")
    await h.advance(3)
    assert h.state("a") == "ready"


async def test_not_ready_during_a_call_applies_after_wrapup(make: MakeHarness) -> None:
    h = make([seat("a")], wrapup_seconds=10)
    await h.start("a")
    h.call("1")
    await h.advance(2)
    h.acd.seat_command("a", "not_ready", "break")
    assert h.state("a") == "talking"
    h.acd.call_ended("1", "operator")
    await h.advance(10)
    assert (h.state("a"), h.acd.seats["a"].reason) == ("not_ready", "break")


async def test_abandon_while_waiting_logs_position_and_wait(make: MakeHarness) -> None:
    h = make([seat("a")])
    await h.start()
    h.call("1")
    h.call("2")
    await h.advance(42)
    h.tasks["2"].cancel()
    await h.advance(0)
    ev = [e for e in h.log.queue if e.kind is K.ABANDON]
    assert [(e.call_id, e.data["position"], e.data["wait"]) for e in ev] == [("2", 2, 42.0)]
    assert [e.call_id for e in h.acd.waiting()] == ["1"]


async def test_hangup_while_ringing_cancels_the_ring_and_frees_the_seat(make: MakeHarness) -> None:
    h = make([seat("a")])
    await h.start("a")
    h.line.script = {"a": ["manual"]}
    h.call("1")
    await h.advance(3)
    h.acd.caller_hangup("1")
    await h.advance(0)
    with pytest.raises(CallerHangup):
        await h.result("1")
    assert h.line.cancelled == ["a"]
    assert h.state("a") == "ready"
    assert h.acd.seats["a"].misses == 0
    assert h.kinds("1") == [K.ENTERQUEUE, K.OFFER, K.RINGCANCELED, K.ABANDON]


async def test_caller_gone_reported_by_ring_is_an_abandon(make: MakeHarness) -> None:
    h = make([seat("a")])
    await h.start("a")
    h.line.script = {"a": ["caller_gone"]}
    h.call("1")
    await h.advance(1)
    with pytest.raises(CallerHangup):
        await h.result("1")
    assert h.state("a") == "ready"


async def test_max_wait_exits_with_timeout(make: MakeHarness) -> None:
    h = make([seat("a")], max_wait=120)
    await h.start()
    h.acd.seat_command("a", "login")
    h.acd.seat_command("a", "not_ready", "meeting")
    h.call("1")
    await h.advance(119)
    assert not h.tasks["1"].done()
    await h.advance(1)
    res = await h.result("1")
    assert (res.outcome, res.waited) == ("timeout", 120.0)
    assert h.kinds("1") == [K.ENTERQUEUE, K.EXITWITHTIMEOUT]


async def test_max_length_turns_callers_away_as_full(make: MakeHarness) -> None:
    h = make([seat("a")], max_length=2)
    await h.start()
    for i in range(3):
        h.call(str(i))
    await h.advance(1)
    assert (await h.result("2")).outcome == "full"
    assert not h.tasks["0"].done() and not h.tasks["1"].done()
    assert h.kinds("2") == [K.FULL]


async def test_no_seat_logged_in_leave_and_wait(make: MakeHarness) -> None:
    h = make([seat("a", queues=("general", "night"))], queues=None, when_no_seats="leave")
    await h.start()
    h.call("1")
    await h.advance(1)
    assert (await h.result("1")).outcome == "no_agents"
    assert h.kinds("1") == [K.JOINEMPTY]
    # with a seat logged in (even not ready) callers join; the last logout sends them out
    h.acd.seat_command("a", "login")
    h.acd.seat_command("a", "not_ready", "training")
    h.call("2")
    await h.advance(5)
    h.acd.seat_command("a", "logout")
    await h.advance(0)
    assert (await h.result("2")).outcome == "no_agents"
    assert h.kinds("2") == [K.ENTERQUEUE, K.EXITEMPTY]


async def test_when_no_seats_wait_keeps_callers_until_a_seat_logs_in(make: MakeHarness) -> None:
    h = make([seat("a")], when_no_seats="wait", max_wait=0)
    await h.start()
    h.call("1")
    await h.advance(300)
    assert not h.tasks["1"].done()
    h.acd.seat_command("a", "login")
    await h.advance(1)
    assert h.line.rings == [("a", "1")]


async def test_announcements_give_position_and_estimated_wait_in_chinese(make: MakeHarness) -> None:
    h = make([seat("a")], announce_every=30, default_handle_seconds=240, max_wait=0)
    await h.start()
    h.acd.seat_command("a", "login")
    h.acd.seat_command("a", "not_ready", "break")
    h.call("1")
    h.call("2")
    await h.advance(31)
    assert h.callers["1"].said() == ["您是下一位，预计等待时间约2分钟，请不要挂机。"]
    assert h.callers["2"].said() == ["您前面还有1位来电在等待，预计等待时间约6分钟，请耐心等候。"]
    await h.advance(30)
    assert len(h.callers["2"].said()) == 2
    assert h.callers["2"].log[0] == ("hold", "on")


async def test_callback_keeps_the_callers_place(make: MakeHarness) -> None:
    h = make([seat("a")], max_wait=60)
    await h.start()
    h.call("1")
    h.call("2")
    await h.advance(10)
    assert h.acd.request_callback("1")
    res = await h.result("1")
    assert res.outcome == "callback"
    await h.advance(600)  # a callback has no max wait; caller 2 timed out meanwhile
    assert (await h.result("2")).outcome == "timeout"
    h.acd.seat_command("a", "login")
    await h.advance(1)
    assert h.line.rings == [("a", "1")]
    assert h.line.offers[0].callback
    assert h.acd.call_ended("1", "operator")


async def test_cancel_after_connect_completes_by_caller(make: MakeHarness) -> None:
    h = make([seat("a")], wrapup_seconds=5)
    await h.start("a")
    h.call("1")
    await h.advance(8)
    h.tasks["1"].cancel()
    await h.advance(0)
    assert h.kinds("1")[-1] == K.COMPLETECALLER
    assert h.state("a") == "wrap_up"
    assert not h.acd.call_ended("1", "operator")  # already over: ignored
    with pytest.raises(asyncio.CancelledError):
        await h.tasks["1"]
