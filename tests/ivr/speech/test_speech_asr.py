from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path

import pytest
from speech_audio import RATE, espeak_wav, feed, noise, pcm, silence, tone

from ivr.config import SpeechSettings
from ivr.control import Heard, SpeechSpec
from ivr.speech.asr import ModelError, Recognizer, check_model_dir, parse_result

pytestmark = pytest.mark.asr

# Words this model knows that espeak-ng's Korean voice says clearly enough (SPEECH.md: 5 of 6).
MENU = ("상담원", "아니요", "민원", "병원", "문의")


@pytest.fixture(scope="module")
def utterances(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("ko")
    return {w: pcm(espeak_wav(w, "ko", folder / f"{i}.wav")) for i, w in enumerate(MENU)}


async def hear(recognizer: Recognizer, spec: SpeechSpec, audio: bytes, **kw: float) -> Heard:
    session = recognizer.listen(spec, RATE)
    feeder = feed(session, audio, **kw)
    try:
        heard = await asyncio.wait_for(session.result(), 30)
        assert session.dropped == 0  # decoding kept up with the feed
        return heard
    finally:
        session.close()
        feeder.join(5)


async def test_grammar_recognises_menu_words(ko_recognizer: Recognizer, utterances: dict[str, bytes]) -> None:
    spec = SpeechSpec(phrases=MENU, timeout=3.0, max_seconds=5.0)
    started = time.monotonic()
    heard = {w: await hear(ko_recognizer, spec, audio) for w, audio in utterances.items()}
    elapsed = time.monotonic() - started
    right = [w for w, h in heard.items() if h.kind == "speech" and h.value == w]
    assert len(right) >= 4, heard
    for w in right:
        h = heard[w]
        assert 0.0 < h.confidence <= 1.0
        # From arming (start of audio) to the endpoint: the word plus trailing silence.
        assert 0.5 < h.seconds < 4.0, h
    # Faster than real time: five utterances of ~2.5 s audio each.
    assert elapsed < 10.0


async def test_silence_is_noinput_after_timeout(ko_recognizer: Recognizer) -> None:
    spec = SpeechSpec(phrases=MENU, timeout=1.5, max_seconds=5.0)
    session = ko_recognizer.listen(spec, RATE)
    feeder = feed(session, silence(4.0), tail=0.0)
    heard = await asyncio.wait_for(session.result(), 10)
    feeder.join(5)
    assert heard.kind == "noinput" and heard.value == ""
    # Ended by the timeout, counted in audio: not before 1.5 s of audio, not long after.
    assert 1.5 <= heard.seconds <= 1.7
    assert not session.speech_started.is_set()


async def test_click_and_short_noise_do_not_barge_in(ko_recognizer: Recognizer) -> None:
    spec = SpeechSpec(phrases=MENU, timeout=2.0, max_seconds=5.0)
    audio = silence(0.3) + noise(0.02) + silence(0.5) + tone(0.12) + silence(2.0)
    session = ko_recognizer.listen(spec, RATE)
    feeder = feed(session, audio, tail=0.0)
    heard = await asyncio.wait_for(session.result(), 10)
    feeder.join(5)
    assert not session.speech_started.is_set()
    assert heard.kind == "noinput"


async def test_speech_sets_speech_started_before_the_result(
    ko_recognizer: Recognizer, utterances: dict[str, bytes]
) -> None:
    session = ko_recognizer.listen(SpeechSpec(phrases=MENU), RATE)
    feeder = feed(session, utterances["상담원"], speed=10)
    await asyncio.wait_for(session.speech_started.wait(), 10)
    assert not session.done  # barge-in is known while the caller is still talking
    heard = await asyncio.wait_for(session.result(), 10)
    feeder.join(5)
    assert heard.kind == "speech"


async def test_max_seconds_ends_a_long_utterance(ko_recognizer: Recognizer) -> None:
    spec = SpeechSpec(phrases=MENU, timeout=2.0, max_seconds=1.0)
    session = ko_recognizer.listen(spec, RATE)
    feeder = feed(session, tone(4.0, amplitude=6000), tail=0.0)
    heard = await asyncio.wait_for(session.result(), 10)
    feeder.join(5)
    assert session.speech_started.is_set()
    # The voice gate opens within the first chunk (the energy detector after 0.3 s): ended
    # max_seconds after the earlier of the two, long before the 4 s of tone were over.
    assert 1.0 <= heard.seconds <= 1.4, heard


async def test_unarmed_session_waits_for_arm(ko_recognizer: Recognizer) -> None:
    spec = SpeechSpec(phrases=MENU, timeout=0.5, max_seconds=3.0)
    session = ko_recognizer.listen(spec, RATE, armed=False)
    assert session._guard is None  # no wall-clock limit while the prompt plays
    for _ in range(20):  # 2 s of "prompt" without an answer: the timeout has not started
        session.feed(silence(0.1))
    await asyncio.sleep(0.3)
    assert not session.done
    session.arm()
    for _ in range(10):
        session.feed(silence(0.1))
    heard = await asyncio.wait_for(session.result(), 5)
    assert heard.kind == "noinput"
    assert 0.5 <= heard.seconds <= 0.7  # counted from arm(), not from the start


async def test_min_confidence_turns_weak_results_into_noinput(
    ko_recognizer: Recognizer, utterances: dict[str, bytes]
) -> None:
    heard = await hear(ko_recognizer, SpeechSpec(phrases=MENU, min_confidence=1.01), utterances["상담원"])
    assert heard.kind == "noinput" and heard.value == ""
    assert heard.confidence > 0


async def test_feed_never_blocks_and_drops_oldest(ko_recognizer: Recognizer) -> None:
    recognizer = Recognizer(ko_recognizer.model, ko_recognizer.info, workers=1, queue_seconds=0.5)
    gate = threading.Event()
    recognizer._pool.submit(gate.wait)  # the only decode thread is busy
    try:
        session = recognizer.listen(SpeechSpec(phrases=MENU, timeout=0.4), RATE)
        started = time.perf_counter()
        for _ in range(50):
            session.feed(silence(0.1))
        per_feed = (time.perf_counter() - started) / 50
        assert per_feed < 0.002  # the clock thread is never held up
        assert session.dropped == 45  # queue of 5 chunks (0.5 s): the 45 oldest went
    finally:
        gate.set()
    heard = await asyncio.wait_for(session.result(), 5)
    assert heard.kind == "noinput"
    session.close()
    recognizer.close()


async def test_wall_clock_guard_ends_a_session_without_audio(ko_recognizer: Recognizer) -> None:
    session = ko_recognizer.listen(SpeechSpec(phrases=MENU, timeout=0.1, max_seconds=0.1), RATE)
    session._set_guard(0.2)  # instead of timeout + max_seconds + 2 s
    heard = await asyncio.wait_for(session.result(), 3)
    assert heard.kind == "noinput"


async def test_close_resolves_result_and_ignores_later_audio(ko_recognizer: Recognizer) -> None:
    session = ko_recognizer.listen(SpeechSpec(phrases=MENU), RATE)
    session.feed(silence(0.1))
    session.close()
    session.close()
    session.feed(silence(0.1))
    assert (await session.result()).kind == "noinput"
    assert session.dropped == 0


async def test_free_form_runs_without_grammar(
    ko_recognizer: Recognizer, utterances: dict[str, bytes]
) -> None:
    assert ko_recognizer.grammar_for(None) is None
    # Free-form decoding runs at about 0.7 x real time here: feed it in real time.
    heard = await hear(ko_recognizer, SpeechSpec(phrases=None, timeout=3.0), utterances["상담원"], speed=1.0)
    # Free-form Korean from espeak is mostly wrong (SPEECH.md); it must still hear *something*.
    assert heard.kind == "speech" and heard.value


def test_grammar_json_is_utf8_and_skips_unknown_phrases(
    ko_recognizer: Recognizer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        grammar = ko_recognizer.grammar_for(("상담원", "qqqzzz 민원"))
    assert grammar == '["상담원"]'  # not "\\uc0c1...": Vosk would not know that word
    assert "qqqzzz" in caplog.text


def test_parse_result_averages_word_confidence_without_unk() -> None:
    raw = (
        '{"result": [{"word": "a", "conf": 1.0}, {"word": "[unk]", "conf": 0.1}, {"word": "b", "conf": 0.5}]}'
    )
    assert parse_result(raw) == (["a", "b"], 0.75)
    assert parse_result('{"text": "[unk]"}') == ([], 0.0)
    assert parse_result('{"text": ""}') == ([], 0.0)


def test_missing_model_parts_are_named(tmp_path: Path, ko_model_dir: Path) -> None:
    with pytest.raises(ModelError, match="the directory itself"):
        Recognizer.load(tmp_path / "nowhere")
    (tmp_path / "am").mkdir()
    (tmp_path / "graph").mkdir()
    (tmp_path / "graph" / "Gr.fst").write_bytes(b"x")
    with pytest.raises(ModelError) as err:
        Recognizer.load(tmp_path)
    assert err.value.missing == (
        "am/final.mdl",
        "conf/mfcc.conf",
        "conf/model.conf",
        "graph/phones/word_boundary.int",
        "graph/HCLG.fst (or graph/HCLr.fst)",
    )
    assert str(tmp_path) in str(err.value)
    info = check_model_dir(ko_model_dir)
    assert info.supports_grammar and info.has_ivector


def test_a_corrupt_model_is_reported(tmp_path: Path, ko_model_dir: Path) -> None:
    for rel in ("am/final.mdl", "conf/mfcc.conf", "conf/model.conf", "graph/phones/word_boundary.int"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"not a model")
    (tmp_path / "graph" / "HCLG.fst").write_bytes(b"")
    assert not check_model_dir(tmp_path).supports_grammar
    with pytest.raises(ModelError, match="loadable model"):
        Recognizer.load(tmp_path)


def test_from_settings_without_a_model_is_dtmf_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="ivr.speech"):
        assert Recognizer.from_settings(SpeechSettings(model="")) is None
        assert (
            Recognizer.from_settings(SpeechSettings(model=str(tmp_path / "vosk-model-small-cn-0.22"))) is None
        )
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "not set" in lines[0] and "keypad" in lines[0]
    assert "vosk-model-small-cn-0.22" in lines[1] and "missing" in lines[1] and "keypad" in lines[1]
