"""The call controls' audio against a fake engine: which legs are bridged, what plays, who is
hung up, and what the seat line's watcher reports after each hand-over (the real peers:
test_sip_controls.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sip_fakes import settle
from test_seatline import Rig

from ivr.control import ControlError
from ivr.sip.callcontrol import CallControls


@pytest.fixture
async def rig(tmp_path: Path) -> Rig:
    r = Rig(tmp_path)
    r.engine.on_dial = lambda call: r.engine.pick_up(call.id)
    assert await r.ring() == "answered"
    return r


def controls(rig: Rig, trunk: str = "10.0.0.9:5060") -> CallControls:
    return CallControls(rig.line, Path("/music/hold.wav"), trunk, answer_timeout=1)


async def test_hold_plays_music_to_the_caller_alone_and_resume_bridges_again(rig: Rig) -> None:
    e, c = rig.engine, controls(rig)
    seat = e.of("bridge")[0].args[0]
    await c.hold(rig.leg.id)
    assert e.bridged == set() and e.of("play")[-1].args[:2] == ("hold.wav", True)
    assert e.of("play")[-1].call_id == rig.leg.id and c.state(rig.leg.id)["held"] is True
    with pytest.raises(ControlError):
        await c.hold(rig.leg.id)
    await c.resume(rig.leg.id)
    assert e.bridged == {frozenset((rig.leg.id, seat))} and e.playing == set()
    with pytest.raises(ControlError) as refused:
        await c.resume(rig.leg.id)
    assert refused.value.status == 409


async def test_consult_back_then_complete_hands_the_caller_over(rig: Rig) -> None:
    e, c = rig.engine, controls(rig)
    seat = e.of("bridge")[0].args[0]
    assert await c.consult(rig.leg.id, "sip:1002@127.0.0.1", {"X-Hotline-Ticket": "T-1"}) is not None
    expert = e.of("dial")[-1]
    [pair] = e.bridged  # the operator with the expert; the caller with neither
    assert seat in pair and rig.leg.id not in pair
    assert expert.args == ("sip:1002@127.0.0.1", {"X-Hotline-Ticket": "T-1"}) and e.playing
    await c.back(rig.leg.id)
    assert e.bridged == {frozenset((rig.leg.id, seat))} and not e.playing
    await c.consult(rig.leg.id, "sip:1002@127.0.0.1", {})
    second = e.of("bridge")[-1].args[0]
    await c.complete(rig.leg.id, "1002", "sip:1002@127.0.0.1")
    assert e.bridged == {frozenset((rig.leg.id, second))} and seat not in e.live and not e.playing
    assert len(e.recording) == 1 and e.of("record")[-1].args[1] == (second,)  # the new part
    await settle()
    assert rig.ended == []  # the first operator's hang-up was a hand-over, not the end
    e.hang_up(second)
    await rig.watched()
    [(_, by, _)] = rig.ended
    assert by == "operator" and rig.line.connections == {}


async def test_blind_release_puts_the_caller_back_on_hold_music_without_reporting_an_end(
    rig: Rig, tmp_path: Path
) -> None:
    (tmp_path / "hold.wav").write_bytes(b"")  # the leg's own hold music, from its audio folder
    e, c = rig.engine, controls(rig)
    seat = e.of("bridge")[0].args[0]
    await c.release(rig.leg.id)
    await settle()
    assert seat not in e.live and e.bridged == set() and e.recording == set()
    assert not rig.leg.connected and e.of("play")[-1].args[:2] == ("hold.wav", True)
    assert rig.ended == [] and rig.line.connections == {}


async def test_three_way_then_the_operator_leaves(rig: Rig) -> None:
    e, c = rig.engine, controls(rig)
    seat = e.of("bridge")[0].args[0]
    assert await c.conference(rig.leg.id, "120", {})
    outside = e.of("dial")[-1]
    assert outside.args[0] == "sip:120@10.0.0.9:5060"
    out_id = next(x for f in e.bridged for x in f if x not in (rig.leg.id, seat))
    assert e.bridged == {frozenset(p) for p in ((rig.leg.id, seat), (rig.leg.id, out_id), (seat, out_id))}
    await c.leave(rig.leg.id)
    assert e.bridged == {frozenset((rig.leg.id, out_id))} and seat not in e.live
    await settle()
    assert rig.ended == []
    e.hang_up(rig.leg.id)
    await rig.watched()
    assert [by for _, by, _ in rig.ended] == ["caller"] and out_id not in e.live


async def test_no_trunk_no_outside_number(rig: Rig) -> None:
    with pytest.raises(ControlError) as refused:
        await controls(rig, trunk="").conference(rig.leg.id, "120", {})
    assert refused.value.status == 503
    assert rig.engine.bridged and len(rig.engine.of("dial")) == 1
