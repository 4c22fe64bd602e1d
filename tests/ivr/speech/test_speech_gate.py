"""The voice gate: silence is never decoded, the first syllable is kept, the end of speech decides."""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time

import pytest
from speech_audio import CHUNK, RATE, espeak_wav, feed, noise, pcm, rms, silence

from ivr.control import SpeechSpec
from ivr.speech.asr import Recognizer
from ivr.speech.gate import Gating, VoiceGate

MENU = ("상담원", "아니요", "민원", "병원", "문의")


def speech_end(audio: bytes) -> float:
    """Where the word really ends (espeak-ng adds its own silence before espeak_wav's pad)."""
    frame = 2 * RATE // 50
    loud = [i for i in range(0, len(audio), frame) if rms(audio[i : i + frame]) > 300]
    return (loud[-1] + frame) / 2 / RATE


@pytest.fixture(scope="module")
def utterances(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("ko-gate")
    return {w: pcm(espeak_wav(w, "ko", folder / f"{i}.wav")) for i, w in enumerate(MENU)}


def chunks(audio: bytes) -> list[bytes]:
    return [audio[i : i + 2 * CHUNK] for i in range(0, len(audio), 2 * CHUNK)]


# -- the gate alone --------------------------------------------------------------------------


def test_silence_and_a_click_stay_shut() -> None:
    gate = VoiceGate(RATE)
    out = [gate.push(c) for c in chunks(silence(1.0) + noise(0.02) + silence(1.0))]
    assert all(g.audio == b"" and not g.ended for g in out)
    assert gate.frames == 101 and gate.passed == 0 and not gate.open


def test_onset_sends_the_pre_roll_then_the_hangover_ends(utterances: dict[str, bytes]) -> None:
    gating = Gating(pre_roll=0.3, hangover=0.3)
    gate = VoiceGate(RATE, gating)
    audio = utterances["상담원"]
    passed = b""
    ended_at = None
    for n, c in enumerate(chunks(audio)):
        g = gate.push(c)
        if passed == b"" and g.audio:
            # the first audio out starts up to pre_roll before the onset, never mid-chunk garbage
            assert len(g.audio) % (2 * round(gating.frame * RATE)) == 0
            assert len(g.audio) >= 2 * round(gating.pre_roll * RATE) - 2 * CHUNK
        passed += g.audio
        if g.ended:
            ended_at = (n + 1) * CHUNK / RATE
            break
    assert ended_at is not None, "the gate never heard the word end"
    end = speech_end(audio)
    # closed one hangover after the word (the detector's own smoothing adds up to ~0.1 s), in
    # the chunk that held that moment
    assert end + gating.hangover <= ended_at <= end + gating.hangover + 0.25, (end, ended_at)
    assert not gate.open
    # what was let through is the word with its pre-roll, not the padding around it
    assert 0.3 < len(passed) / 2 / RATE < len(audio) / 2 / RATE - 1.0


def test_rates_the_detector_lacks_are_refused() -> None:
    with pytest.raises(ValueError, match="11025"):
        VoiceGate(11025)


# -- the gate in a listening turn (real Vosk) ------------------------------------------------

pytest_asr = pytest.mark.asr


async def decide(recognizer: Recognizer, audio: bytes, spec: SpeechSpec) -> tuple[str, str, float, int]:
    session = recognizer.listen(spec, RATE)
    feeder = feed(session, audio)
    try:
        heard = await asyncio.wait_for(session.result(), 30)
        return heard.kind, heard.value, heard.seconds, session.decodes
    finally:
        session.close()
        feeder.join(5)


@pytest_asr
async def test_gated_and_ungated_decide_the_same(
    ko_recognizer: Recognizer, utterances: dict[str, bytes]
) -> None:
    """The pre-roll keeps the first syllable: every word gets the decision it gets ungated."""
    ungated = Recognizer(ko_recognizer.model, ko_recognizer.info, gating=None)
    spec = SpeechSpec(phrases=MENU, timeout=3.0, max_seconds=5.0)
    try:
        for word, audio in utterances.items():
            g = await decide(ko_recognizer, audio, spec)
            u = await decide(ungated, audio, spec)
            assert g[:2] == u[:2], (word, g, u)
            assert g[3] < u[3], (word, g, u)  # fewer chunks decoded
        right = [w for w, a in utterances.items() if (await decide(ko_recognizer, a, spec))[1] == w]
        assert len(right) >= 4, right
    finally:
        ungated.close()


@pytest_asr
async def test_the_end_of_speech_decides_without_waiting_for_vosk(
    ko_recognizer: Recognizer, utterances: dict[str, bytes]
) -> None:
    """Counted in audio: the turn ends one hangover after the word, before Vosk's 0.5 s rule."""
    audio = utterances["민원"]
    kind, value, seconds, _ = await decide(ko_recognizer, audio, SpeechSpec(phrases=MENU))
    assert (kind, value) == ("speech", "민원")
    assert seconds <= speech_end(audio) + Gating().hangover + 0.25, seconds


@pytest_asr
async def test_silence_costs_no_decoding(ko_recognizer: Recognizer) -> None:
    made: list[int] = []
    recognizer = Recognizer(ko_recognizer.model, ko_recognizer.info)
    try:
        session = recognizer.listen(SpeechSpec(phrases=MENU, timeout=2.0, max_seconds=5.0), RATE)
        original = session._make_stream

        def counting() -> object:
            made.append(1)
            return original()

        session._make_stream = counting
        feeder = feed(session, silence(3.0), tail=0.0)
        heard = await asyncio.wait_for(session.result(), 10)
        feeder.join(5)
        assert heard.kind == "noinput" and 2.0 <= heard.seconds <= 2.2
        assert session.decodes == 0 and made == []  # no Kaldi stream made, no chunk decoded
    finally:
        recognizer.close()


@pytest_asr
async def test_hang_up_racing_listen_raises_nothing(
    ko_recognizer: Recognizer, utterances: dict[str, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    """The caller hangs up (close) at random moments while a word is being decoded on the pool."""
    rnd = random.Random(12345)
    spec = SpeechSpec(phrases=MENU, timeout=3.0, max_seconds=5.0)
    audio = utterances["상담원"]
    with caplog.at_level(logging.WARNING):
        for _ in range(20):
            session = ko_recognizer.listen(spec, RATE)
            stop_at = rnd.uniform(0.0, 0.15)

            def feeder(s: object = session, deadline: float = time.monotonic() + stop_at) -> None:
                for c in chunks(audio):
                    if time.monotonic() > deadline:
                        return
                    s.feed(c)  # type: ignore[attr-defined]

            t = threading.Thread(target=feeder)
            t.start()
            await asyncio.sleep(stop_at)
            session.close()  # what the leg does when the caller hangs up
            session.feed(audio[: 2 * CHUNK])  # late audio after the hang-up is ignored
            heard = await asyncio.wait_for(session.result(), 5)
            t.join(5)
            assert heard.kind in ("noinput", "speech")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    # the pool carries on: the next caller is understood
    kind, value, _, _ = await decide(ko_recognizer, audio, spec)
    assert (kind, value) == ("speech", "상담원")


def test_wideband_lines_are_gated_too() -> None:
    gate = VoiceGate(16000)
    assert [gate.push(silence(0.1, 16000)).audio for _ in range(5)] == [b""] * 5
    assert gate.frames == 25


def test_settings_choose_the_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    """[speech] voice_gate and end_silence reach the recognizer (loading the model is stubbed)."""
    from ivr.config import SpeechSettings

    got: list[object] = []
    monkeypatch.setattr(Recognizer, "load", classmethod(lambda cls, path, **kw: got.append(kw["gating"])))
    Recognizer.from_settings(SpeechSettings(model="m", end_silence=0.5))
    Recognizer.from_settings(SpeechSettings(model="m", voice_gate=False))
    assert got == [Gating(hangover=0.5), None]
