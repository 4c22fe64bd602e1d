"""The seat line against a fake engine: ring, bridge, record both parties, report who ended."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path
from typing import Literal

import pytest
from sip_fakes import FakeEngine, settle

from ivr.config import SeatSettings
from ivr.records import CallContext, Offer
from ivr.sip.leg import Leg
from ivr.sip.seatline import SipSeatLine

SEAT = SeatSettings("1001", "王芳", "sip:1001@127.0.0.1:5099")


class Voice:
    async def render(self, text: str) -> Path:
        raise AssertionError("nothing is said here")


class Rig:
    def __init__(self, tmp_path: Path) -> None:
        self.engine = FakeEngine()
        self.leg = Leg(self.engine, self.engine.incoming(), voice=Voice(), audio_dir=tmp_path)
        self.ended: list[tuple[str, Literal["caller", "operator"], str]] = []
        self.line = SipSeatLine(
            self.engine,
            {self.leg.id: self.leg}.get,
            lambda offer, by, recording: self.ended.append((offer.call_id, by, recording)),
            tmp_path / "recordings",
        )
        context = CallContext(self.leg.id, "13800138000")
        self.offer = Offer(context, "general", SEAT.id, SEAT.uri, ticket_id="T-1")

    async def ring(self, timeout: float = 5) -> str:
        return await self.line.ring(self.offer, timeout)

    async def watched(self) -> None:
        for _ in range(100):
            if self.ended:
                return
            await asyncio.sleep(0.005)


@pytest.fixture
async def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)


async def test_answered_seat_is_bridged_recorded_and_caller_hangup_reported(rig: Rig) -> None:
    e = rig.engine
    e.on_dial = lambda call: e.pick_up(call.id)
    assert await rig.ring() == "answered"
    [dial] = e.of("dial")
    seat_id = e.of("bridge")[0].args[0]
    assert dial.args == (SEAT.uri, {"X-Hotline-Caller": "13800138000", "X-Hotline-Ticket": "T-1"})
    assert e.of("bridge")[0].call_id == rig.leg.id
    [record] = e.of("record")
    assert record.call_id == rig.leg.id and record.args[1] == (seat_id,)  # both parties
    assert rig.leg.connected
    e.hang_up(rig.leg.id)
    await rig.watched()
    [(call_id, by, recording)] = rig.ended
    assert (call_id, by) == (rig.leg.id, "caller") and recording.endswith(".wav")
    assert e.of("hangup")[0].call_id == seat_id


async def test_operator_hangup_unbridges_stops_recording_and_keeps_the_caller(rig: Rig) -> None:
    e = rig.engine
    e.on_dial = lambda call: e.pick_up(call.id)
    assert await rig.ring() == "answered"
    seat_id = e.of("bridge")[0].args[0]
    e.hang_up(seat_id)
    await rig.watched()
    assert [by for _, by, _ in rig.ended] == ["operator"]
    assert e.of("unbridge")[0].args == (seat_id,) and e.recording == set() and e.bridged == set()
    assert not rig.leg.connected and not rig.leg.ended.is_set()
    assert "hangup" not in e.names()


async def test_dial_failure_is_failed(rig: Rig) -> None:
    rig.engine.dial_error = RuntimeError("bad URI")
    assert await rig.ring() == "failed"


@pytest.mark.parametrize(("status", "outcome"), [(486, "busy"), (408, "no_answer"), (503, "failed")])
async def test_seat_that_does_not_answer(rig: Rig, status: int, outcome: str) -> None:
    rig.engine.on_dial = lambda call: rig.engine.hang_up(call.id, status)
    assert await rig.ring() == outcome
    assert "bridge" not in rig.engine.names()


async def test_ring_timeout_hangs_up_the_seat(rig: Rig) -> None:
    assert await rig.ring(timeout=0.05) == "no_answer"
    assert rig.engine.names() == ["dial", "hangup"]


async def test_caller_gone_while_bridging_is_caller_gone_without_errors(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    e = rig.engine

    def seat_answers_as_caller_leaves(call_id: str) -> None:
        e.pick_up(call_id)
        e.hang_up(rig.leg.id, event=False)  # gone on the pj thread; its event not yet here

    e.on_dial = lambda call: seat_answers_as_caller_leaves(call.id)
    assert await rig.ring() == "caller_gone"
    assert e.names()[-1] == "hangup" and not rig.leg.connected
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []


async def test_callback_dials_the_seat_then_the_citizen(rig: Rig) -> None:
    e = rig.engine
    e.on_dial = lambda call: e.pick_up(call.id)
    context = replace(rig.offer.context, origin="10.0.0.5:5060")
    rig.offer = replace(rig.offer, context=context, callback=True)
    assert await rig.ring() == "answered"
    seat, citizen = e.of("dial")
    assert seat.args[0] == SEAT.uri and seat.args[1]["X-Hotline-Callback"] == "1"
    assert citizen.args[0] == "sip:13800138000@10.0.0.5:5060"
    citizen_id, seat_id = e.of("bridge")[0].call_id, e.of("bridge")[0].args[0]
    e.hang_up(seat_id)
    await rig.watched()
    assert [by for _, by, _ in rig.ended] == ["operator"]
    await settle()
    assert e.of("hangup")[-1].call_id == citizen_id
