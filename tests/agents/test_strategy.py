"""Each strategy picks the seat it promises, seen through real ACD runs."""

from __future__ import annotations

from acd_fakes import MakeHarness, seat

from agents.strategy import Chooser
from ivr.config import STRATEGIES


async def serve(h, call_id: str, talk: float = 5.0) -> str:  # type: ignore[no-untyped-def]
    """Queue one caller, let a seat answer, talk `talk` seconds, hang up; returns the seat id."""
    h.call(call_id)
    await h.advance(1.0)  # answer_after
    sid = h.line.rings[-1][0]
    await h.advance(talk)
    assert h.acd.call_ended(call_id, "operator")
    return sid


async def test_longest_idle_picks_the_seat_free_longest(make: MakeHarness) -> None:
    h = make([seat("a"), seat("b"), seat("c")], strategy="longest_idle")
    await h.start("b", "c", "a")  # logged in in this order, one second apart
    assert await serve(h, "1") == "b"
    assert await serve(h, "2") == "c"
    assert await serve(h, "3") == "a"
    assert await serve(h, "4") == "b"  # b has been idle since call 1 ended, the longest


async def test_round_robin_rotates_in_roster_order(make: MakeHarness) -> None:
    h = make([seat("a"), seat("b"), seat("c")], strategy="round_robin")
    await h.start("c", "b", "a")
    got = [await serve(h, str(i)) for i in range(5)]
    assert got == ["a", "b", "c", "a", "b"]


async def test_fewest_calls_prefers_the_seat_with_fewer_answered_calls(make: MakeHarness) -> None:
    h = make([seat("a"), seat("b")], strategy="fewest_calls")
    await h.start("a")
    assert await serve(h, "1") == "a"
    assert await serve(h, "2") == "a"
    h.acd.seat_command("b", "login")  # b logged in last (shortest idle) but has no calls
    assert await serve(h, "3") == "b"
    assert await serve(h, "4") == "b"
    assert await serve(h, "5") in ("a", "b")
    assert h.acd.seats["a"].calls + h.acd.seats["b"].calls == 5


async def test_least_talk_time_prefers_the_seat_that_talked_least(make: MakeHarness) -> None:
    h = make([seat("a"), seat("b")], strategy="least_talk_time")
    await h.start("a", "b")
    assert await serve(h, "1", talk=100) == "a"
    assert await serve(h, "2", talk=10) == "b"
    assert await serve(h, "3", talk=10) == "b"  # 10 s talked < 100 s
    assert await serve(h, "4", talk=10) == "b"  # 20 s < 100 s
    assert h.acd.seats["b"].talk_seconds == 30


async def test_skills_strategy_prefers_the_best_matching_seat(make: MakeHarness) -> None:
    h = make([seat("a", housing=2), seat("b", housing=5), seat("c")], strategy="skills", skill_widen_after=())
    await h.start("a", "b", "c")
    h.call("1", housing=1)
    await h.advance(1)
    assert h.line.rings[-1][0] == "b"


async def test_skill_requirement_widens_after_configured_waits(make: MakeHarness) -> None:
    h = make(
        [seat("low", housing=1), seat("mid", housing=3), seat("none")],
        strategy="longest_idle",
        skill_widen_after=(30.0, 60.0),
        skill_widen_levels=2,
        max_wait=0,
    )
    await h.start()
    h.acd.seat_command("mid", "login")
    h.acd.seat_command("low", "login")
    h.acd.seat_command("none", "login")
    h.line.script = {"mid": ["manual"], "low": ["manual"], "none": ["manual"]}
    h.call("1", housing=5)
    await h.advance(29)
    assert h.line.rings == []  # nobody has housing 5
    await h.advance(2)  # 31 s: level 3 is enough
    assert h.line.seats_rung() == ["mid"]
    h.acd.seat_command("mid", "not_ready", "break")  # applies once the ring ends
    h.line.resolve("mid", "no_answer")
    await h.advance(1)
    assert h.state("mid") == "not_ready"
    assert h.line.seats_rung() == ["mid"]  # low (1) is still below the widened 3
    await h.advance(28)  # 62 s: skills ignored; "low" logged in before "none"
    assert h.line.seats_rung() == ["mid", "low"]


def test_the_chooser_implements_exactly_the_configurable_strategies() -> None:
    """config.toml accepts the names in ivr.config; each must have a strategy here, and no more."""
    assert set(Chooser()._by_name) == set(STRATEGIES)
