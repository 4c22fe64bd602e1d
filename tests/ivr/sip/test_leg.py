"""The caller's leg against a fake engine: what it asks the engine to do, and what the flow gets."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import wave
from pathlib import Path

import pytest
from sip_fakes import FakeEngine, settle, silence

from ivr.control import CallerHangup, DigitSpec, Heard, Prompt, SpeechSpec
from ivr.sip.call import Call
from ivr.sip.leg import Leg


class Voice:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp

    async def render(self, text: str) -> Path:
        return silence(self.tmp / "tts.wav", 0.2)


class Session:
    """A listening turn that hears speech once it has been fed audio."""

    def __init__(self) -> None:
        self.speech_started = asyncio.Event()
        self.fed: list[bytes] = []
        self.armed = False
        self.closed = False
        self._heard: asyncio.Future[Heard] = asyncio.get_running_loop().create_future()

    def feed(self, pcm: bytes) -> None:
        self.fed.append(pcm)
        if not self._heard.done():
            self._heard.set_result(Heard("speech", "咨询", 0.9))

    def arm(self) -> None:
        self.armed = True

    async def result(self) -> Heard:
        return await asyncio.shield(self._heard)

    def close(self) -> None:
        self.closed = True


class Recognizer:
    def __init__(self) -> None:
        self.sessions: list[Session] = []

    def listen(self, spec: SpeechSpec, sample_rate: int, *, armed: bool = True) -> Session:
        s = Session()
        self.sessions.append(s)
        return s


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


def make_leg(engine: FakeEngine, tmp_path: Path, recognizer: Recognizer | None = None) -> Leg:
    return Leg(engine, engine.incoming(), voice=Voice(tmp_path), recognizer=recognizer, audio_dir=tmp_path)


async def wait_for_command(engine: FakeEngine, name: str) -> None:
    for _ in range(200):
        if name in engine.names():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"no {name} in {engine.names()}")


def no_errors(caplog: pytest.LogCaptureFixture) -> None:
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []


async def test_the_one_id_is_the_sip_call_id(engine: FakeEngine, tmp_path: Path) -> None:
    leg = make_leg(engine, tmp_path)
    assert leg.id == leg.call_id == leg.call.id and leg.id.endswith("@test")
    assert (leg.caller, leg.dialled, leg.source) == ("13800138000", "12345", "127.0.0.1:5060")


@pytest.mark.parametrize("event_first", [True, False])
async def test_hangup_while_play_is_queued_is_a_caller_hangup(
    engine: FakeEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture, event_first: bool
) -> None:
    """The hang-up's event may land before the queued play runs, or the play may find the call
    gone first (the KeyError of old): both are CallerHangup, with nothing logged as an error."""
    leg = make_leg(engine, tmp_path)
    engine.hold = asyncio.Event()
    playing = asyncio.ensure_future(leg.play([Prompt(wav=silence(tmp_path / "hi.wav", 2))]))
    await wait_for_command(engine, "play")
    engine.hang_up(leg.id, event=event_first)
    await settle()
    engine.hold.set()
    with pytest.raises(CallerHangup):
        await playing
    assert engine.playing == set()
    no_errors(caplog)


async def test_guard_closes_what_it_never_started(engine: FakeEngine, tmp_path: Path) -> None:
    leg = make_leg(engine, tmp_path)
    engine.hang_up(leg.id)
    await settle()
    with pytest.raises(CallerHangup):
        await leg.guard(asyncio.sleep(1))  # never awaited would be a RuntimeWarning (an error here)
    gc.collect()


async def test_barge_in_key_stops_the_prompt_and_its_player(engine: FakeEngine, tmp_path: Path) -> None:
    leg = make_leg(engine, tmp_path)
    started = time.monotonic()
    playing = asyncio.ensure_future(leg.play([Prompt(wav=silence(tmp_path / "long.wav", 5))], barge_in=True))
    await wait_for_command(engine, "play")
    engine.press(leg.id, "3")
    assert await playing == "3"
    assert time.monotonic() - started < 2
    [play] = engine.of("play")
    [stop] = engine.of("stop_playing")
    assert stop.args == (play.args[-1],) and engine.playing == set()


async def test_ask_with_speech_attaches_and_detaches_the_listener(engine: FakeEngine, tmp_path: Path) -> None:
    recognizer = Recognizer()
    leg = make_leg(engine, tmp_path, recognizer)
    asking = asyncio.ensure_future(
        leg.ask(
            [Prompt(wav=silence(tmp_path / "menu.wav", 0.1))],
            digits=DigitSpec(first_timeout=5),
            speech=SpeechSpec(),
            barge_in=False,
        )
    )
    await wait_for_command(engine, "listen")
    [listen] = engine.of("listen")
    engine.hear(listen.args[0], b"\1\0" * 800)  # the one audio path: the engine's sink
    heard = await asyncio.wait_for(asyncio.shield(asking), 5)
    assert heard == Heard("speech", "咨询", 0.9)
    [session] = recognizer.sessions
    assert session.fed == [b"\1\0" * 800] and session.armed and session.closed
    assert engine.of("stop_listening")[0].args == listen.args and engine.sinks == {}


async def test_ask_a_key_beats_speech(engine: FakeEngine, tmp_path: Path) -> None:
    recognizer = Recognizer()
    leg = make_leg(engine, tmp_path, recognizer)
    asking = asyncio.ensure_future(
        leg.ask([], digits=DigitSpec(max_digits=1), speech=SpeechSpec(), barge_in=True)
    )
    await wait_for_command(engine, "listen")
    engine.press(leg.id, "1")
    assert (await asking).kind == "dtmf" and (await asking).value == "1"
    assert "stop_listening" in engine.names()


async def test_record_writes_what_the_engine_delivers_and_stops_on_hash(
    engine: FakeEngine, tmp_path: Path
) -> None:
    leg = make_leg(engine, tmp_path)
    out = tmp_path / "msg" / "m.wav"
    recording = asyncio.ensure_future(leg.record(out, max_seconds=10, silence_seconds=5))
    await wait_for_command(engine, "listen")
    [listen] = engine.of("listen")
    loud = b"\x00\x20" * 800  # 0.1 s at 8 kHz, well above the voice threshold
    for _ in range(3):
        engine.hear(listen.args[0], loud)
    await settle()
    engine.press(leg.id, "#")
    seconds = await asyncio.wait_for(recording, 5)
    assert seconds == pytest.approx(0.3)
    with wave.open(str(out)) as w:
        assert w.getnframes() == 2400
    assert engine.of("stop_listening")[0].args == listen.args


async def test_transfer_that_is_not_answered_hangs_up_the_target(engine: FakeEngine, tmp_path: Path) -> None:
    leg = make_leg(engine, tmp_path)
    engine.on_dial = lambda call: engine.hang_up(call.id, 486)
    assert await leg.transfer("96069") is False
    [dial] = engine.of("dial")
    assert dial.args[0] == "sip:96069@127.0.0.1"


async def test_transfer_bridges_and_stays_until_the_target_ends(engine: FakeEngine, tmp_path: Path) -> None:
    leg = make_leg(engine, tmp_path)
    engine.on_dial = lambda call: engine.pick_up(call.id)
    transfer = asyncio.ensure_future(leg.transfer("sip:96069@10.0.0.1"))
    await wait_for_command(engine, "bridge")
    [bridge] = engine.of("bridge")
    engine.hang_up(bridge.args[0])
    assert await transfer is True
    assert bridge.call_id == leg.id


async def test_hold_music_stopped_while_it_starts_is_stopped(engine: FakeEngine, tmp_path: Path) -> None:
    leg = make_leg(engine, tmp_path)
    silence(tmp_path / "hold.wav", 1)
    engine.hold = asyncio.Event()
    starting = asyncio.ensure_future(leg.start_hold_music())
    await wait_for_command(engine, "play")
    stopping = asyncio.ensure_future(leg.stop_hold_music())
    await settle()
    engine.hold.set()
    await starting
    await stopping
    assert engine.names() == ["play", "stop_playing"] and engine.playing == set()


async def test_hangup_of_an_ended_call_sends_nothing(engine: FakeEngine, tmp_path: Path) -> None:
    leg = make_leg(engine, tmp_path)
    engine.hang_up(leg.id)
    await settle()
    await leg.hangup()
    assert engine.names() == []


@pytest.mark.parametrize("event_first", [True, False])
@pytest.mark.parametrize("command", ["record", "listen", "bridge"])
async def test_hangup_racing_a_queued_command_is_a_caller_hangup(
    engine: FakeEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture, command: str, event_first: bool
) -> None:
    """As for play above: the caller hangs up while record, listen (an ask with speech) or the
    bridge of a transfer is queued on the pj thread. The flow sees CallerHangup, nothing is left
    recording, listening or bridged, and nothing is logged as an error."""
    leg = make_leg(engine, tmp_path, Recognizer())
    hold = asyncio.Event()

    def answer_then_hold(call: Call) -> None:  # the dial goes through; the bridge is what waits
        engine.pick_up(call.id)
        engine.hold = hold

    engine.on_dial = answer_then_hold
    action = {
        "record": lambda: leg.record(tmp_path / "msg.wav", max_seconds=5, silence_seconds=1),
        "listen": lambda: leg.ask([Prompt(wav=silence(tmp_path / "q.wav", 1))], speech=SpeechSpec(("咨询",))),
        "bridge": lambda: leg.transfer("96069"),
    }[command]
    if command != "bridge":
        engine.hold = hold
    running = asyncio.ensure_future(action())
    await wait_for_command(engine, "listen" if command == "record" else command)
    engine.hang_up(leg.id, event=event_first)
    await settle()
    hold.set()
    with pytest.raises(CallerHangup):
        await running
    await settle()
    assert engine.recording == set() and engine.sinks == {} and engine.bridged == set()
    no_errors(caplog)
