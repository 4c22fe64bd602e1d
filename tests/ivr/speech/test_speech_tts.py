from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import pytest
from speech_audio import rms, tone

from ivr.config import SpeechSettings
from ivr.speech.tts import Tts, TtsError, espeak_to_file, resample_wav, wav_seconds

GREETING = "您好，欢迎致电12345市民服务热线"


def wav_format(path: Path) -> tuple[int, int, int]:
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth()


def hidden_files(folder: Path) -> list[Path]:
    return list(folder.glob(".*"))


def samples(path: Path) -> bytes:
    with wave.open(str(path), "rb") as w:
        return w.readframes(w.getnframes())


async def test_render_makes_an_8khz_prompt_of_plausible_length(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    tts = Tts(tmp_path)
    path = await tts.render(GREETING)
    assert path.parent == tmp_path and path.name.endswith(".8000.wav")
    assert wav_format(path) == (8000, 1, 2)
    # 19 syllables once the number is read digit by digit: a few seconds, not a blip or a minute.
    assert 2.5 < wav_seconds(path) < 8.0
    assert rms(samples(path)) > 500  # speech, not silence
    assert tts.synth_count == 1
    out, _ = capfd.readouterr()
    assert "Audio saved" not in out  # pyttsx3's print is silenced
    assert hidden_files(tmp_path) == []  # no temporary files left behind


async def test_second_render_is_a_cache_hit(tmp_path: Path) -> None:
    tts = Tts(tmp_path)
    first = await tts.render("请说人工服务")
    stamp = first.stat().st_mtime_ns
    again = await tts.render("请说人工服务")
    assert again == first and first.stat().st_mtime_ns == stamp
    assert tts.synth_count == 1
    # A new Tts over the same cache (a restart) does not synthesise either.
    restarted = Tts(tmp_path)
    assert await restarted.render("请说人工服务") == first
    assert restarted.synth_count == 0


async def test_different_text_voice_or_rate_is_a_different_file(tmp_path: Path) -> None:
    tts = Tts(tmp_path)
    a = await tts.render("您是第3位")
    b = await tts.render("您是第4位")
    c = await Tts(tmp_path, rate=140).render("您是第3位")
    d = await Tts(tmp_path, voice="yue").render("您是第3位")
    assert len({a, b, c, d}) == 4
    assert samples(a) != samples(b)
    assert wav_seconds(c) > wav_seconds(a)  # slower speech is longer


async def test_text_is_normalised_before_hashing_and_synthesis(tmp_path: Path) -> None:
    tts = Tts(tmp_path)
    digits = await tts.render("请拨打12345")
    spelled = await tts.render("请拨打幺二三四五")
    assert digits == spelled
    assert tts.synth_count == 1


async def test_16khz_on_request(tmp_path: Path) -> None:
    tts = Tts(tmp_path)
    narrow = await tts.render("请稍候")
    wide = await tts.render("请稍候", sample_rate=16000)
    assert wav_format(wide) == (16000, 1, 2)
    assert narrow != wide
    assert abs(wav_seconds(wide) - wav_seconds(narrow)) < 0.01


async def test_warm_renders_each_prompt_once_even_concurrently(tmp_path: Path) -> None:
    tts = Tts(tmp_path)
    texts = ["您好", "请稍候", "您好", "  ", "再见"]
    rendered = await tts.warm(texts)
    assert set(rendered) == {"您好", "请稍候", "再见"}
    assert all(p.is_file() for p in rendered.values())
    assert tts.synth_count == 3
    paths = await asyncio.gather(*(tts.render("谢谢您的来电") for _ in range(5)))
    assert len(set(paths)) == 1
    assert tts.synth_count == 4


async def test_empty_text_and_unknown_voice_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty"):
        await Tts(tmp_path).render("  ")
    with pytest.raises(TtsError, match="no-such-voice"):
        await Tts(tmp_path, voice="no-such-voice").render("您好")
    # The shared engine still works with a good voice afterwards.
    assert wav_seconds(await Tts(tmp_path).render("您好")) > 0.3


async def test_a_missing_output_file_is_retried(tmp_path: Path) -> None:
    calls: list[str] = []

    def flaky(text: str, path: Path, voice: str, rate: int) -> None:
        calls.append(text)
        if len(calls) > 1:  # the first call "forgets" to write, as the driver once did
            espeak_to_file(text, path, voice, rate)

    tts = Tts(tmp_path, synthesize=flaky)
    assert wav_seconds(await tts.render("您好")) > 0.3
    assert len(calls) == 2 and tts.synth_count == 2

    def never(text: str, path: Path, voice: str, rate: int) -> None:
        path.write_bytes(b"")  # an empty file is no better than none

    with pytest.raises(TtsError, match="no audio"):
        await Tts(tmp_path, synthesize=never).render("再见")


def write_wav(path: Path, rate: int, channels: int, data: bytes) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data)
    return path


async def test_conform_converts_recorded_prompts_once(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    tts = Tts(cache)
    mono = tone(1.0, rate=44100)
    stereo = b"".join(mono[i : i + 2] * 2 for i in range(0, len(mono), 2))
    recorded = write_wav(tmp_path / "greeting.wav", 44100, 2, stereo)
    out = await tts.conform(recorded)
    assert out.parent == cache and wav_format(out) == (8000, 1, 2)
    assert abs(wav_seconds(out) - 1.0) < 0.01
    assert await tts.conform(recorded) == out
    ready = write_wav(tmp_path / "ready.wav", 8000, 1, tone(0.5))
    assert await tts.conform(ready) == ready  # already in the bridge's format: used as is
    with pytest.raises(TtsError, match="not a readable WAV"):
        await tts.conform(tmp_path / "absent.wav")


@pytest.mark.parametrize("use_sox", [True, False])
def test_resample_with_and_without_sox(tmp_path: Path, use_sox: bool) -> None:
    src = write_wav(tmp_path / "in.wav", 22050, 1, tone(2.0, freq=300, rate=22050))
    dst = tmp_path / "out.wav"
    resample_wav(src, dst, 8000, use_sox=use_sox)
    assert wav_format(dst) == (8000, 1, 2)
    assert abs(wav_seconds(dst) - 2.0) < 0.01
    # A 300 Hz tone keeps its level (amplitude 10000: RMS about 7071).
    assert 6000 < rms(samples(dst)) < 7600


def test_from_settings_uses_voice_rate_and_cache(tmp_path: Path) -> None:
    speech = SpeechSettings(voice="yue", rate=150, tts_cache="cache")
    tts = Tts.from_settings(speech, sample_rate=16000, resolve=lambda p: tmp_path / p)
    assert (tts.voice, tts.rate, tts.sample_rate, tts.cache_dir) == ("yue", 150, 16000, tmp_path / "cache")
