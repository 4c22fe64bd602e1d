"""The team leader's line against a fake engine (the routes it asks the bridge for), over a real
seat line: listen, whisper, barge, take over, leave, and hang-ups racing each of them."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Literal

import pytest
from sip_fakes import FakeEngine, settle

from ivr.records import CallContext, Offer
from ivr.sip.leader import LeaderLine, SupervisionError
from ivr.sip.leg import Leg
from ivr.sip.seatline import SipSeatLine

LEADER_URI = "sip:1009@127.0.0.1:5098"


class Voice:
    async def render(self, text: str) -> Path:
        raise AssertionError("nothing is said here")


class Rig:
    def note(self, act: str, leader: str, by: str, recording: str) -> None:
        self.acts.append((act, leader, by))
        self.done.append(recording)

    def __init__(self, tmp_path: Path) -> None:
        self.engine = e = FakeEngine()
        self.leg = Leg(e, e.incoming(), voice=Voice(), audio_dir=tmp_path)
        self.ended: list[Literal["caller", "operator"]] = []
        self.seats = SipSeatLine(
            e, {self.leg.id: self.leg}.get, lambda offer, by, rec: self.ended.append(by), tmp_path / "rec"
        )
        self.acts: list[tuple[str, str, str]] = []
        self.done: list[str] = []  # recordings finished by an action
        self.leaders = LeaderLine(
            e,
            self.seats,
            lambda act, _, leader, by, rec: self.acts.append((act, leader, by)) or self.done.append(rec),
        )
        self.offer = Offer(
            CallContext(self.leg.id, "13800138000"), "general", "1001", "sip:1001@h", ticket_id="T-1"
        )
        self.operator = ""

    async def connect(self) -> None:
        e = self.engine
        e.on_dial = lambda call: e.pick_up(call.id)
        assert await self.seats.ring(self.offer, 5) == "answered"
        self.operator = e.of("bridge")[0].args[0]
        await settle()


@pytest.fixture
async def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)


def routes(rig: Rig) -> set[tuple[str, str]]:
    names = {rig.leg.id: "caller", rig.operator: "operator"}
    return {(names.get(a, "leader"), names.get(b, "leader")) for a, b in rig.engine.routes}


async def test_listen_whisper_barge_and_leave(rig: Rig) -> None:
    await rig.connect()
    presence = await rig.leaders.join("1001", "listen", "1009", LEADER_URI, "1009")
    dial = rig.engine.of("dial")[-1]
    assert dial.args[0] == LEADER_URI and dial.args[1]["X-Hotline-Ticket"] == "T-1"
    assert routes(rig) == {("caller", "leader"), ("operator", "leader")}
    await rig.leaders.join("1001", "whisper", "1009", LEADER_URI, "1009")
    assert routes(rig) == {("caller", "leader"), ("operator", "leader"), ("leader", "operator")}
    await rig.leaders.join("1001", "barge", "1009", LEADER_URI, "1009")
    assert ("leader", "caller") in routes(rig) and len(routes(rig)) == 4
    await rig.leaders.join("1001", "listen", "1009", LEADER_URI, "1009")  # back: two routes stop
    assert routes(rig) == {("caller", "leader"), ("operator", "leader")}
    assert rig.leaders.supervised() == {"1001": ("listen", "1009")}
    with pytest.raises(SupervisionError) as other:
        await rig.leaders.join("1001", "listen", "1010", "sip:1010@h", "supervisor")
    assert other.value.status == 409
    await rig.leaders.leave("1001", "1009")
    await settle()
    assert presence.leader.ended.is_set() and rig.leaders.supervised() == {}
    assert [a for a, _, _ in rig.acts] == ["listen", "whisper", "barge", "listen", "leave"]
    assert rig.engine.bridged == {frozenset((rig.leg.id, rig.operator))}  # the call goes on


async def test_take_over_leaves_the_caller_with_the_leader(rig: Rig) -> None:
    await rig.connect()
    presence = await rig.leaders.join("1001", "barge", "1009", LEADER_URI, "supervisor")
    leader = presence.leader.id
    await rig.leaders.take_over("1001", "1009", LEADER_URI, "supervisor")
    await settle()
    e = rig.engine
    assert e.bridged == {frozenset((rig.leg.id, leader))} and e.routes == set()
    assert rig.operator not in e.live and leader in e.live  # the operator's phone was hung up
    assert rig.ended == []  # the conversation goes on, with the leader
    assert rig.seats.connections[rig.leg.id].operator.id == leader
    assert rig.acts[-1] == ("takeover", "1009", "supervisor") and rig.leaders.supervised() == {}
    # the operator's part of the QA recording is finished; the caller and the leader go on in a new one
    first, second = e.of("record")
    assert first.args[1] == (rig.operator,) and second.args[1] == (leader,) and len(e.recording) == 1
    assert Path(rig.done[-1]).name == first.args[0] and rig.done[-1].endswith(".wav")
    e.hang_up(rig.leg.id)  # the citizen hangs up: the leader's phone is hung up, as an operator's
    for _ in range(50):
        if rig.ended:
            break
        await asyncio.sleep(0.005)
    assert rig.ended == ["caller"] and leader not in e.live


async def test_take_over_without_listening_first(rig: Rig) -> None:
    await rig.connect()
    await rig.leaders.take_over("1001", "1009", LEADER_URI, "supervisor")
    assert [a for a, _, _ in rig.acts] == ["listen", "takeover"]
    assert len(rig.engine.bridged) == 1 and rig.leg.id in next(iter(rig.engine.bridged))


async def test_no_call_own_call_and_unknown_mode(rig: Rig) -> None:
    with pytest.raises(SupervisionError) as none:
        await rig.leaders.join("1001", "listen", "1009", LEADER_URI, "1009")
    assert none.value.status == 404
    await rig.connect()
    with pytest.raises(SupervisionError) as own:
        await rig.leaders.join("1001", "listen", "1001", "sip:1001@h", "1001")
    assert own.value.status == 409
    with pytest.raises(SupervisionError) as bad:
        await rig.leaders.join("1001", "spy", "1009", LEADER_URI, "1009")  # type: ignore[arg-type]
    assert bad.value.status == 400


async def test_hang_ups_racing_the_routes_raise_no_tracebacks(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.connect()
    e = rig.engine

    def leader_answers_as_operator_leaves(call_id: str) -> None:
        e.pick_up(call_id)
        e.hang_up(rig.operator, event=False)  # gone on the pj thread; its event not yet here

    e.on_dial = lambda call: leader_answers_as_operator_leaves(call.id)
    with pytest.raises(SupervisionError) as gone:
        await rig.leaders.join("1001", "listen", "1009", LEADER_URI, "1009")
    assert gone.value.status == 410
    leader = e.of("hangup")[-1].call_id
    assert leader not in e.live and leader != rig.operator  # the leader's phone was hung up
    assert rig.leaders.supervised() == {}
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []


async def test_the_call_ending_hangs_up_the_listener(rig: Rig) -> None:
    await rig.connect()
    presence = await rig.leaders.join("1001", "listen", "1009", LEADER_URI, "1009")
    rig.engine.hang_up(rig.operator)  # the operator hangs up; the caller stays for the survey
    for _ in range(50):
        if presence.leader.ended.is_set():
            break
        await asyncio.sleep(0.005)
    assert presence.leader.ended.is_set() and rig.leaders.supervised() == {}
    assert rig.ended == ["operator"]
    await rig.leaders.close()
