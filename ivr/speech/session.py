"""One listening turn: audio in from any thread, a `Heard` out on the event loop.

Created by `Recognizer.listen`; see ivr/speech/asr.py for the threading model.
"""

from __future__ import annotations

import array
import asyncio
import json
import logging
import math
import operator
import sys
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from ivr.control import Heard, SpeechSpec
from ivr.speech.gate import Gating, VoiceGate
from ivr.speech.grammar import UNK

log = logging.getLogger(__name__)

GUARD_SLACK = 2.0  # wall-clock seconds past timeout + max_seconds before a silent feed is given up


@dataclass(frozen=True)
class Voicing:
    """When a sound counts as the caller speaking (barge-in): loud enough for long enough.

    A click, a cough or a short "嗯" must not stop a prompt, so speech starts only after
    `min_voiced` seconds of frames above the threshold, allowing gaps up to `max_gap`.
    The threshold follows the line's noise floor (`floor_ratio` times its RMS).
    """

    threshold: float = 400.0  # RMS of 16-bit samples, about -38 dBFS
    floor_ratio: float = 3.0
    min_voiced: float = 0.3
    max_gap: float = 0.15
    frame: float = 0.02


def parse_result(raw: str) -> tuple[list[str], float]:
    """Words (without [unk]) and their mean confidence from a Vosk JSON result (SetWords on)."""
    res: dict[str, Any] = json.loads(raw)
    items = [w for w in res.get("result", []) if w.get("word") != UNK]
    if items:
        words = [str(w["word"]) for w in items]
        return words, sum(float(w.get("conf", 1.0)) for w in items) / len(items)
    words = [w for w in str(res.get("text", "")).split() if w != UNK]
    return words, 1.0 if words else 0.0


class ListenSession:
    def __init__(
        self,
        spec: SpeechSpec,
        sample_rate: int,
        *,
        make_stream: Callable[[], Any],
        submit: Callable[[Callable[[], None]], Future[None]],
        loop: asyncio.AbstractEventLoop,
        queue_chunks: int,
        voicing: Voicing,
        gating: Gating | None = None,
        armed: bool = True,
    ) -> None:
        self.spec = spec
        self.sample_rate = sample_rate
        self.speech_started = asyncio.Event()
        self.dropped = 0  # chunks dropped because decoding fell behind
        self.decodes = 0  # chunks handed to the decoder (the gate keeps silence out)
        self._make_stream = make_stream
        self._submit = submit
        self._loop = loop
        self._voicing = voicing
        self._result: asyncio.Future[Heard] = loop.create_future()
        # Shared with feeding threads, under _lock.
        self._lock = threading.Lock()
        self._queue: deque[bytes] = deque()
        self._queue_chunks = queue_chunks
        self._scheduled = False
        self._closed = False
        self._arm_pending = armed
        self._finish_pending = False
        # Owned by the (single) drain job running at a time.
        self._stream: Any = None
        # gating None: every chunk is decoded (no gate), as before the gate existed
        self._gate = VoiceGate(sample_rate, gating) if gating is not None else None
        self._voice_at: int | None = None  # sample where the gate first opened
        self._samples = 0
        self._armed_at: int | None = None
        self._started_at: int | None = None
        self._voiced = 0
        self._gap = 0
        self._floor = 0.0
        self._done = False
        self._guard: asyncio.TimerHandle | None = None
        if armed:  # unarmed: a long prompt may play first; arm() starts the guard
            self._set_guard(spec.timeout + spec.max_seconds + GUARD_SLACK)

    # -- any thread -------------------------------------------------------------------------

    def feed(self, pcm: bytes) -> None:
        """Queue 16-bit mono PCM; never blocks. When decoding lags, the oldest chunk goes."""
        with self._lock:
            if self._closed:
                return
            if len(self._queue) >= self._queue_chunks:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(bytes(pcm))
            if self._scheduled:
                return
            self._scheduled = True
        self._schedule()

    # -- event loop ------------------------------------------------------------------------

    def arm(self) -> None:
        """Start the no-input timeout now (at the end of the prompt) if it was not armed."""
        with self._lock:
            if self._closed:
                return
            self._arm_pending = True
        self._set_guard(self.spec.timeout + self.spec.max_seconds + GUARD_SLACK)

    async def result(self) -> Heard:
        return await asyncio.shield(self._result)

    @property
    def done(self) -> bool:
        return self._result.done()

    def close(self) -> None:
        """Stop listening; a pending `result()` gets noinput. Safe to call twice."""
        with self._lock:
            self._closed = True
            self._queue.clear()
            if not self._scheduled:
                self._stream = None  # no drain job holds it
        self._resolve(Heard("noinput"))

    # -- internals ---------------------------------------------------------------------------

    def _set_guard(self, seconds: float) -> None:
        if self._guard is not None:
            self._guard.cancel()
        self._guard = self._loop.call_later(seconds, self._on_guard)

    def _on_guard(self) -> None:
        log.info("speech: listen still open after its wall-clock limit (audio stopped?); ending it")
        with self._lock:
            if self._closed:
                return
            self._finish_pending = True
            if self._scheduled:
                return
            self._scheduled = True
        self._schedule()

    def _schedule(self) -> None:
        try:
            self._submit(self._drain)
        except RuntimeError:  # pool shut down: the process is stopping
            with self._lock:
                self._scheduled = False

    def _resolve(self, heard: Heard) -> None:
        if self._guard is not None:
            self._guard.cancel()
        if not self._result.done():
            self._result.set_result(heard)

    def _to_loop(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # loop closed: nobody is waiting any more
            pass

    def _drain(self) -> None:
        """Pool thread: decode everything queued, then return (rescheduled by the next feed)."""
        try:
            while True:
                with self._lock:
                    if self._closed or self._done:
                        self._queue.clear()
                        self._stream = None
                        self._scheduled = False
                        return
                    chunk = self._queue.popleft() if self._queue else None
                    arm, self._arm_pending = self._arm_pending, False
                    finish = self._finish_pending and not self._queue
                    if chunk is None and not arm and not finish:
                        self._scheduled = False
                        return
                if arm:
                    self._armed_at = self._samples
                if chunk:
                    self._decode(chunk)
                if finish and not self._done:
                    self._finish()
        except Exception:
            log.exception("speech: decoding failed; treating the turn as no input")
            with self._lock:
                self._scheduled = False
                self._done = True
                self._stream = None
            self._to_loop(self._resolve, Heard("noinput"))

    def _decode(self, chunk: bytes) -> None:
        self._track_voicing(chunk)
        rate = self.sample_rate
        ended = False
        if self._gate is not None:
            gated = self._gate.push(chunk)
            audio, ended = gated.audio, gated.ended
            if audio and self._voice_at is None:
                self._voice_at = self._samples
        else:
            audio = chunk
        self._samples += len(chunk) // 2
        if audio:
            if self._stream is None:  # made at the first voice: a silent turn costs no stream
                self._stream = self._make_stream()
            self.decodes += 1
            if self._stream.AcceptWaveform(audio):
                # Endpoint: Vosk saw trailing silence. Empty results (noise, [unk]) keep listening.
                words, conf = parse_result(self._stream.Result())
                if words:
                    self._complete(words, conf)
                    return
                ended = False  # already flushed by the endpoint
        if ended and self._stream is not None:
            # The gate heard the speech end: decide now, not after Vosk's trailing-silence rule.
            # Noise that opened the gate decodes to nothing: keep listening on the same stream.
            words, conf = parse_result(self._stream.FinalResult())
            if words:
                self._complete(words, conf)
                return
        talking = self._gate is not None and self._gate.open
        if not talking:
            self._voice_at = None  # the next opening counts max_seconds afresh
        starts = [s for s in (self._started_at, self._voice_at if talking else None) if s is not None]
        if not starts:
            if self._armed_at is not None and self._samples - self._armed_at >= self.spec.timeout * rate:
                self._complete([], 0.0)
        elif self._samples - min(starts) >= self.spec.max_seconds * rate:
            self._finish()

    def _finish(self) -> None:
        if self._stream is None:
            self._complete([], 0.0)
            return
        self._complete(*parse_result(self._stream.FinalResult()))

    def _complete(self, words: list[str], conf: float) -> None:
        self._done = True
        self._stream = None
        if self.dropped:  # the node is past what its cores decode in real time
            log.warning("speech: decoding fell behind: %d chunks of audio dropped in one turn", self.dropped)
        armed_at = self._armed_at if self._armed_at is not None else self._samples
        seconds = max(0, self._samples - armed_at) / self.sample_rate
        log.debug("speech: heard %r (confidence %.2f) after %.1f s of audio", words, conf, seconds)
        if not words:
            heard = Heard("noinput", seconds=seconds)
        elif conf < self.spec.min_confidence:
            log.info(
                "speech: %r below confidence %.2f (%.2f); no input", words, self.spec.min_confidence, conf
            )
            heard = Heard("noinput", confidence=conf, seconds=seconds)
        else:
            heard = Heard("speech", value=" ".join(words), confidence=conf, seconds=seconds)
            if self._started_at is None:  # quiet speech Vosk still understood
                self._to_loop(self.speech_started.set)
        self._to_loop(self._resolve, heard)

    def _track_voicing(self, chunk: bytes) -> None:
        if self._started_at is not None:
            return
        v = self._voicing
        samples = array.array("h")
        samples.frombytes(chunk[: len(chunk) // 2 * 2])
        if sys.byteorder != "little":
            samples.byteswap()
        step = max(1, round(v.frame * self.sample_rate))
        need, max_gap = v.min_voiced * self.sample_rate, v.max_gap * self.sample_rate
        for i in range(0, len(samples), step):
            frame = samples[i : i + step]
            rms = math.sqrt(sum(map(operator.mul, frame, frame)) / len(frame))  # 1.5x a generator
            if rms >= max(v.threshold, self._floor * v.floor_ratio):
                self._voiced += len(frame)
                self._gap = 0
                if self._voiced >= need:
                    self._started_at = self._samples + i
                    self._to_loop(self.speech_started.set)
                    return
            else:
                # Slow floor tracking on quiet frames only, so speech does not raise it.
                self._floor = rms if self._floor == 0.0 else 0.95 * self._floor + 0.05 * rms
                self._gap += len(frame)
                if self._gap > max_gap:
                    self._voiced = 0
