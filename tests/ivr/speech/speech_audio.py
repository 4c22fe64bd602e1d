"""Test audio for the speech tests: espeak-ng utterances, clicks, silence, and a feeder thread."""

from __future__ import annotations

import array
import math
import random
import subprocess
import threading
import time
import wave
from pathlib import Path

from ivr.speech.asr import ListenSession

RATE = 8000
CHUNK = RATE // 10  # 100 ms, what the capture port delivers


def espeak_wav(
    text: str, voice: str, out: Path, *, rate: int = RATE, pad: tuple[float, float] = (0.3, 1.2)
) -> Path:
    """A caller's utterance: espeak-ng, resampled by sox to mono 16-bit `rate`, padded with silence."""
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    subprocess.run(
        ["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(out), "pad", str(pad[0]), str(pad[1])],
        check=True,
    )
    raw.unlink()
    return out


def pcm(path: Path) -> bytes:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return w.readframes(w.getnframes())


def silence(seconds: float, rate: int = RATE) -> bytes:
    return bytes(2 * int(seconds * rate))


def noise(seconds: float, amplitude: int = 12000, rate: int = RATE, seed: int = 7) -> bytes:
    rnd = random.Random(seed)
    return array.array(
        "h", (rnd.randint(-amplitude, amplitude) for _ in range(int(seconds * rate)))
    ).tobytes()


def tone(seconds: float, freq: float = 220.0, amplitude: int = 10000, rate: int = RATE) -> bytes:
    n = int(seconds * rate)
    return array.array(
        "h", (int(amplitude * math.sin(2 * math.pi * freq * i / rate)) for i in range(n))
    ).tobytes()


def rms(data: bytes) -> float:
    samples = array.array("h")
    samples.frombytes(data)
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))


def feed(session: ListenSession, audio: bytes, *, speed: float = 20.0, tail: float = 3.0) -> threading.Thread:
    """Feed `audio` in 100 ms chunks from a separate thread (feed is safe from any thread),
    `speed` times faster than real time, then silence until the session ends (at most `tail` s)."""

    def run() -> None:
        data = audio + silence(tail)
        for i in range(0, len(data), 2 * CHUNK):
            if session.done:
                return
            session.feed(data[i : i + 2 * CHUNK])
            time.sleep(0.1 / speed)

    thread = threading.Thread(target=run, name="fake-clock", daemon=True)
    thread.start()
    return thread
