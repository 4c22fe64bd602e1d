"""Prompts as WAV files: pyttsx3 on espeak-ng, cached, in the format the conference bridge plays.

pyttsx3's espeak driver is one process-wide libespeak-ng instance and not thread-safe, so all
synthesis runs on one worker thread. It writes 22,050 Hz WAV and prints "Audio saved to ..." on
stdout; we silence that print, check the file really exists (it once came out missing), then
resample to the bridge's clock rate (8 kHz by default) with sox, or in pure Python without sox.
Files are cached under a hash of (normalised text, voice, rate), so a prompt is synthesised
once per installation, not once per call.
"""

from __future__ import annotations

import array
import asyncio
import atexit
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import wave
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ivr.config import SpeechSettings
from ivr.speech.text import normalise

log = logging.getLogger(__name__)

WAV_HEADER = 44


class TtsError(RuntimeError):
    pass


def cache_key(text: str, voice: str, rate: int) -> str:
    return hashlib.sha256(f"{voice}\0{rate}\0{text}".encode()).hexdigest()[:24]


def wav_seconds(path: str | Path) -> float:
    """Length of a WAV file in seconds."""
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def _valid_wav(path: Path) -> bool:
    try:
        if path.stat().st_size <= WAV_HEADER:
            return False
        with wave.open(str(path), "rb") as w:
            return w.getnframes() > 0
    except (OSError, wave.Error, EOFError):
        return False


def _is_bridge_format(path: Path, sample_rate: int) -> bool:
    with wave.open(str(path), "rb") as w:
        return w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == sample_rate


def resample_wav(src: Path, dst: Path, sample_rate: int, *, use_sox: bool | None = None) -> None:
    """Write `src` as mono 16-bit PCM at `sample_rate` to `dst` (sox when available)."""
    if use_sox is None:
        use_sox = shutil.which("sox") is not None
    if use_sox:
        # -G: guard against clipping introduced by the resampler's filter.
        cmd = [
            "sox",
            "-q",
            "-G",
            str(src),
            "-r",
            str(sample_rate),
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed",
            "-t",
            "wav",
            str(dst),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise TtsError(f"sox failed converting {src}: {done.stderr.strip()}")
        return
    _resample_python(src, dst, sample_rate)


def _resample_python(src: Path, dst: Path, sample_rate: int) -> None:
    """Fallback without sox: average to mono, box low-pass, then linear interpolation."""
    with wave.open(str(src), "rb") as w:
        if w.getsampwidth() != 2:
            raise TtsError(f"{src}: only 16-bit WAV can be converted without sox")
        channels, src_rate = w.getnchannels(), w.getframerate()
        raw = array.array("h")
        raw.frombytes(w.readframes(w.getnframes()))
    if sys.byteorder != "little":
        raw.byteswap()
    mono = [sum(raw[i : i + channels]) / channels for i in range(0, len(raw), channels)]
    if sample_rate < src_rate:
        width = max(1, round(src_rate / sample_rate))  # crude anti-aliasing before decimation
        acc = 0.0
        smooth = []
        for i, x in enumerate(mono):
            acc += x - (mono[i - width] if i >= width else 0.0)
            smooth.append(acc / min(i + 1, width))
        mono = smooth
    n_out = int(len(mono) * sample_rate / src_rate)
    out = array.array("h", bytes(2 * n_out))
    step = src_rate / sample_rate
    for k in range(n_out):
        pos = k * step
        i = int(pos)
        frac = pos - i
        nxt = mono[i + 1] if i + 1 < len(mono) else mono[i]
        out[k] = max(-32768, min(32767, round(mono[i] + (nxt - mono[i]) * frac)))
    if sys.byteorder != "little":
        out.byteswap()
    with wave.open(str(dst), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(out.tobytes())


# libespeak-ng is one instance per process and pyttsx3 hands out one engine per driver, so every
# Tts in the process shares this single worker thread and the engine it creates.
_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tts")
_engine: Any = None
_errors: list[BaseException] = []


def _drop_engine() -> None:
    # Release the engine while modules still exist: pyttsx3's __del__ fails noisily at exit.
    global _engine
    _engine = None


atexit.register(_drop_engine)


def espeak_to_file(text: str, path: Path, voice: str, rate: int) -> None:
    """Synthesise `text` to a 22,050 Hz WAV with pyttsx3's espeak driver. Worker thread only."""
    global _engine
    from pyttsx3.drivers import _espeak

    if _engine is None:
        import pyttsx3
        import pyttsx3.drivers.espeak as espeak_driver

        # The driver prints "Audio saved to ..." with the builtin print; shadowing the name in
        # that module keeps stdout clean without redirecting sys.stdout for every thread.
        espeak_driver.print = lambda *args, **kwargs: None
        _engine = pyttsx3.init("espeak")
        # pyttsx3 swallows driver exceptions (a bad voice name among them) into this topic.
        _engine.connect("error", lambda name=None, exception=None: _errors.append(exception))
        # runAndWait queues endLoop before the synthesis starts, and endLoop calls the driver's
        # stop(), which calls espeak_Cancel() whenever libespeak-ng reports it is still playing
        # (most of the time, in retrieval mode). That Cancel sometimes hit the synthesis that
        # followed and the WAV came out empty (44 bytes, 1 in 20 to 1 in 100 here). We never
        # interrupt a synthesis, so stop() has nothing to do for us.
        _engine.proxy._driver.stop = lambda: None
    _errors.clear()
    # Set per call: the engine is shared. Never call getProperty("voices") before synthesis:
    # after it the driver once wrote no file at all.
    _engine.setProperty("voice", voice)
    _engine.setProperty("rate", rate)
    _engine.save_to_file(text, str(path))
    _engine.runAndWait()
    # The driver initialises libespeak-ng in AUDIO_OUTPUT_RETRIEVAL mode, which is asynchronous:
    # runAndWait can return before espeak's own thread has written the file (under load the
    # file was simply not there yet). Block until that thread has finished.
    _espeak.Synchronize()
    if _errors:
        raise TtsError(f"espeak-ng failed (voice {voice!r}): {_errors[0]}")


class Tts:
    """Renders prompt text to cached WAV files; `await tts.render(text)` -> Path."""

    def __init__(
        self,
        cache_dir: str | Path,
        *,
        voice: str = "cmn-latn-pinyin",
        rate: int = 170,
        sample_rate: int = 8000,
        synthesize: Callable[[str, Path, str, int], None] = espeak_to_file,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.voice = voice
        self.rate = rate
        self.sample_rate = sample_rate
        self.synth_count = 0  # syntheses actually run (cache misses)
        self._synthesize = synthesize
        self._pending: dict[Path, asyncio.Future[Path]] = {}

    @classmethod
    def from_settings(
        cls, speech: SpeechSettings, *, sample_rate: int = 8000, resolve: Callable[[str], Path] = Path
    ) -> Tts:
        return cls(resolve(speech.tts_cache), voice=speech.voice, rate=speech.rate, sample_rate=sample_rate)

    def path_for(self, text: str, *, sample_rate: int | None = None) -> Path:
        """Where the rendering of `text` is (or will be) cached."""
        key = cache_key(normalise(text.strip()), self.voice, self.rate)
        return self.cache_dir / f"{key}.{sample_rate or self.sample_rate}.wav"

    async def render(self, text: str, *, sample_rate: int | None = None) -> Path:
        """The WAV for `text` (mono 16-bit PCM at `sample_rate`, default the bridge rate)."""
        if not text.strip():
            raise ValueError("nothing to say: empty prompt text")
        rate = sample_rate or self.sample_rate
        out = self.path_for(text, sample_rate=rate)
        if _valid_wav(out):
            return out
        pending = self._pending.get(out)
        if pending is None:
            spoken = normalise(text.strip())
            pending = asyncio.wrap_future(_WORKER.submit(self._render_sync, spoken, out, rate))
            self._pending[out] = pending
            pending.add_done_callback(lambda _: self._pending.pop(out, None))
        # shield: one caller giving up must not cancel the rendering others wait for.
        return await asyncio.shield(pending)

    async def warm(self, texts: Iterable[str], *, sample_rate: int | None = None) -> dict[str, Path]:
        """Pre-render every prompt of a flow at load time; returns text -> WAV."""
        unique = list(dict.fromkeys(t for t in texts if t.strip()))
        paths = await asyncio.gather(*(self.render(t, sample_rate=sample_rate) for t in unique))
        return dict(zip(unique, paths, strict=True))

    async def conform(self, wav: str | Path, *, sample_rate: int | None = None) -> Path:
        """A recorded prompt in the bridge's format: itself if it already is, else a cached copy."""
        rate = sample_rate or self.sample_rate
        return await asyncio.wrap_future(_WORKER.submit(self._conform_sync, Path(wav), rate))

    # -- worker thread -----------------------------------------------------------------------

    def _conform_sync(self, src: Path, rate: int) -> Path:
        try:
            if _is_bridge_format(src, rate):
                return src
            st = src.stat()
        except (OSError, wave.Error, EOFError) as exc:
            raise TtsError(f"recorded prompt {src} is not a readable WAV: {exc}") from exc
        key = cache_key(f"{src.resolve()}\0{st.st_size}\0{st.st_mtime_ns}", "recording", 0)
        out = self.cache_dir / f"{key}.{rate}.wav"
        if not _valid_wav(out):
            self._convert(src, out, rate)
        return out

    def _convert(self, src: Path, out: Path, rate: int) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        resample_wav(src, tmp, rate)
        os.replace(tmp, out)  # atomic: a reader never sees half a file

    def _render_sync(self, spoken: str, out: Path, rate: int) -> Path:
        if _valid_wav(out):
            return out
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        raw = out.with_name(f".{out.stem}.raw.wav")
        try:
            for _attempt in range(2):  # the driver has been seen to skip writing the file once
                raw.unlink(missing_ok=True)
                self._synthesize(spoken, raw, self.voice, self.rate)
                self.synth_count += 1
                if _valid_wav(raw):
                    break
                log.warning("tts: espeak-ng wrote no audio for %r; retrying", spoken)
            else:
                raise TtsError(f"espeak-ng produced no audio for {spoken!r} (voice {self.voice})")
            self._convert(raw, out, rate)
        finally:
            raw.unlink(missing_ok=True)
        log.debug("tts: rendered %r -> %s (%.1f s)", spoken, out.name, wav_seconds(out))
        return out
