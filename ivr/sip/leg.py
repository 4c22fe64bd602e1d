"""One caller's leg as the flow sees it: the SIP implementation of `CallControl`.

The leg lives on the asyncio side and holds only the call id; every pjsua2 operation is a
small function submitted to the engine's pj thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import struct
import time
import wave
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ivr.control import CallerHangup, DigitSpec, Heard, Prompt, SpeechSpec
from ivr.records import QueueRequest, QueueResult
from ivr.sip.engine import SipEngine
from ivr.sip.events import CallState, Digit, Event, MediaReady
from ivr.sip.router import CallRouter

log = logging.getLogger(__name__)
T = TypeVar("T")


class Voice(Protocol):
    async def render(self, text: str) -> Path: ...


class Listening(Protocol):
    speech_started: asyncio.Event

    def feed(self, pcm: bytes) -> None: ...

    def arm(self) -> None: ...

    async def result(self) -> Heard: ...

    def close(self) -> None: ...


class Recognizer(Protocol):
    def listen(self, spec: SpeechSpec, sample_rate: int, *, armed: bool = True) -> Listening: ...


Enqueue = Callable[["Leg", QueueRequest], Awaitable[QueueResult]]


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


def rms(pcm: bytes) -> float:
    n = len(pcm) // 2
    if n == 0:
        return 0.0
    samples = struct.unpack(f"<{n}h", pcm[: n * 2])
    return math.sqrt(sum(s * s for s in samples) / n)


def _post(loop: asyncio.AbstractEventLoop, q: asyncio.Queue[bytes], pcm: bytes) -> None:
    loop.call_soon_threadsafe(q.put_nowait, pcm)


class Leg:
    def __init__(
        self,
        engine: SipEngine,
        call_id: int,
        caller: str,
        dialled: str,
        *,
        voice: Voice,
        recognizer: Recognizer | None = None,
        audio_dir: Path = Path("audio"),
        enqueue: Enqueue | None = None,
        router: CallRouter | None = None,
        sip_call_id: str = "",
        source: str = "",
    ):
        self.engine = engine
        self.id = call_id
        self._caller = caller
        self._dialled = dialled
        self.sip_call_id = sip_call_id
        self.source = source
        self.voice = voice
        self.recognizer = recognizer
        self.audio_dir = audio_dir
        self._enqueue = enqueue
        self.router = router
        self.digits: asyncio.Queue[str] = asyncio.Queue()
        self.key = asyncio.Event()  # set while a key is waiting in `digits`
        self.media_ready = asyncio.Event()
        self.ended = asyncio.Event()
        self.hangup_status = 0
        self.started = time.monotonic()
        self.transcript: list[str] = []
        self.on_end: list[Callable[[], None]] = []
        self.flow = ""  # the flow this call runs (for the screen pop and the call record)
        self.connected = False  # bridged to an operator
        self._hold: int | None = None  # token of the looping hold-music player

    # -- CallControl identity --
    @property
    def call_id(self) -> str:
        return self.sip_call_id or str(self.id)

    @property
    def caller(self) -> str:
        return self._caller

    @property
    def dialled(self) -> str:
        return self._dialled

    @property
    def origin(self) -> str:
        return self.source

    # -- events from the engine --
    def on_event(self, event: Event) -> None:
        if isinstance(event, Digit):
            self.digits.put_nowait(event.digit)
            self.key.set()
        elif isinstance(event, MediaReady):
            self.media_ready.set()
        elif isinstance(event, CallState) and event.state == "DISCONNECTED":
            self.hangup_status = event.status
            self.ended.set()
            for cb in self.on_end:
                cb()

    async def guard(self, aw: Awaitable[T]) -> T:
        """Await aw unless the caller hangs up first (then CallerHangup)."""
        if self.ended.is_set():
            raise CallerHangup()
        task = asyncio.ensure_future(aw)
        ended = asyncio.ensure_future(self.ended.wait())
        try:
            await asyncio.wait({task, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise CallerHangup()

    async def _op(self, fn: Callable[[], T]) -> T:
        return await self.engine.submit(fn)

    async def ready(self, timeout: float = 5.0) -> None:
        await self.guard(asyncio.wait_for(self.media_ready.wait(), timeout))

    # -- prompts --
    async def _resolve(self, prompt: Prompt) -> Path | None:
        if prompt.wav is not None:
            path = prompt.wav if prompt.wav.is_absolute() else self.audio_dir / prompt.wav
            if path.is_file():
                return path
            log.warning(
                "call %s: prompt WAV %s is missing; %s",
                self.id,
                path,
                "saying its text instead" if prompt.text else "skipping it",
            )
        if prompt.text:
            return await self.voice.render(prompt.text)
        return None

    async def _play_file(self, path: Path, interrupt: asyncio.Event | None) -> bool:
        """Play one file to the end; True if interrupted."""
        token = self.engine.token()
        await self.guard(self._op(lambda: self.engine.call(self.id).play(token, path)))
        try:
            waiters: list[asyncio.Future[Any]] = [
                asyncio.ensure_future(asyncio.sleep(wav_seconds(path) + 0.05))
            ]
            if interrupt is not None:
                waiters.append(asyncio.ensure_future(interrupt.wait()))
            try:
                await self.guard(asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED))
            finally:
                for w in waiters:
                    w.cancel()
            return interrupt is not None and interrupt.is_set()
        finally:
            if not self.ended.is_set():
                with contextlib.suppress(Exception):
                    await self._op(lambda: self.engine.call(self.id).stop(token))

    async def _play_all(self, prompts: Sequence[Prompt], interrupt: asyncio.Event | None) -> bool:
        await self.ready()
        for prompt in prompts:
            path = await self.guard(self._resolve(prompt))
            if path is not None and await self._play_file(path, interrupt):
                return True
        return False

    def _key_pending(self) -> asyncio.Event:
        if self.digits.empty():
            self.key.clear()
        else:
            self.key.set()
        return self.key

    async def play(self, prompts: Sequence[Prompt], *, barge_in: bool = False) -> str | None:
        if not barge_in:
            await self._play_all(prompts, None)
            return None
        await self._play_all(prompts, self._key_pending())
        return self.digits.get_nowait() if not self.digits.empty() else None

    # -- input --
    async def _collect(self, spec: DigitSpec, first_timeout: float) -> str:
        got = ""
        timeout = first_timeout
        while len(got) < spec.max_digits:
            try:
                d = await self.guard(asyncio.wait_for(self.digits.get(), timeout))
            except TimeoutError:
                break
            if spec.terminator and d == spec.terminator:
                break
            got += d
            timeout = spec.inter_timeout
        return got

    async def ask(
        self,
        prompts: Sequence[Prompt],
        *,
        digits: DigitSpec | None = None,
        speech: SpeechSpec | None = None,
        barge_in: bool = True,
    ) -> Heard:
        await self.ready()
        session: Listening | None = None
        token = 0
        if speech is not None and self.recognizer is not None:
            token = self.engine.token()
            rate = self._rate()
            # with barge-in it listens through the prompt; the no-input clock starts at its end
            session = self.recognizer.listen(speech, rate, armed=not barge_in)
            sess = session
            await self.guard(self._op(lambda: self.engine.call(self.id).listen(token, rate, sess.feed)))
        started = time.monotonic()
        try:
            interrupt = asyncio.Event()
            tasks: list[asyncio.Task[Any]] = []
            if barge_in:
                tasks.append(asyncio.ensure_future(self._relay(self._key_pending(), interrupt)))
                if session is not None:
                    tasks.append(asyncio.ensure_future(self._relay(session.speech_started, interrupt)))
            try:
                await self._play_all(prompts, interrupt if barge_in else None)
            finally:
                for t in tasks:
                    t.cancel()
            if session is not None:
                session.arm()
            heard = await self._await_input(digits, session, started)
            if heard.kind == "speech":
                self.transcript.append(heard.value)
            return heard
        finally:
            if session is not None:
                session.close()
                if not self.ended.is_set():
                    with contextlib.suppress(Exception):
                        await self._op(lambda: self.engine.call(self.id).stop_listen(token))

    @staticmethod
    async def _relay(src: asyncio.Event, dst: asyncio.Event) -> None:
        await src.wait()
        dst.set()

    async def _await_input(
        self, digits: DigitSpec | None, session: Listening | None, started: float
    ) -> Heard:
        first_timeout = digits.first_timeout if digits else (session and 3600.0) or 0.0
        if session is None:
            if digits is None:
                return Heard("noinput")
            got = await self._collect(digits, first_timeout)
            return Heard("dtmf", got, 1.0, time.monotonic() - started) if got else Heard("noinput")
        # both: the first key wins over speech; speech ends on its own endpoint or timeout
        speech_task = asyncio.ensure_future(session.result())
        key_task = asyncio.ensure_future(self.digits.get()) if digits else None
        waiters = {speech_task} | ({key_task} if key_task else set())
        try:
            done, _ = await self.guard(asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED))
        finally:
            for w in waiters:
                if not w.done():
                    w.cancel()
        if key_task is not None and key_task in done and digits is not None:
            first = key_task.result()
            if digits.terminator and first == digits.terminator:
                return Heard("noinput")
            rest = (
                ""
                if digits.max_digits == 1
                else await self._collect(
                    replace(digits, max_digits=digits.max_digits - 1), digits.inter_timeout
                )
            )
            return Heard("dtmf", first + rest, 1.0, time.monotonic() - started)
        return speech_task.result()

    def _rate(self) -> int:
        return self.engine.config.clock_rate

    # -- waiting in a queue (the ACD's CallerLine) --
    async def start_hold_music(self) -> None:
        path = self.audio_dir / "hold.wav"
        if self._hold is not None or self.connected or self.ended.is_set():
            return
        if not path.is_file():
            log.warning(
                "call %s: no hold music at %s; the caller hears silence between announcements", self.id, path
            )
            return
        token = self.engine.token()
        self._hold = token
        await self._op(lambda: self.engine.call(self.id).play(token, path, loop=True))

    async def stop_hold_music(self) -> None:
        token, self._hold = self._hold, None
        if token is not None and not self.ended.is_set():
            with contextlib.suppress(Exception):
                await self._op(lambda: self.engine.call(self.id).stop(token))

    async def announce(self, text: str) -> None:
        """Position and wait announcements: pause the music, speak, resume."""
        if self.connected or self.ended.is_set():
            return
        log.info("call %s: queue announcement: %s", self.id, text)
        held = self._hold is not None
        await self.stop_hold_music()
        try:
            await self.play([Prompt(text)])
        finally:
            if held and not self.connected:
                await self.start_hold_music()

    # -- queue, transfer, record, hangup --
    async def enqueue(self, request: QueueRequest) -> QueueResult:
        if self._enqueue is None:
            return QueueResult("no_agents")
        try:
            return await self.guard(self._enqueue(self, request))
        finally:
            # keys pressed on hold or while talking to the operator are not answers to what follows
            while not self.digits.empty():
                self.digits.get_nowait()

    async def transfer(self, target: str) -> bool:
        """B2BUA transfer: dial the target, bridge on answer, stay until either side ends."""
        if self.router is None:
            return False
        host = self.source.rsplit(":", 1)[0] or "127.0.0.1"
        uri = target if target.startswith("sip:") else f"sip:{target}@{host}"
        out = await self.guard(self.router.dial(self.engine, uri))
        try:
            if not await self.guard(out.wait_answer(30)):
                return False
            await self.guard(asyncio.wait_for(out.media_ready.wait(), 5))
            await self._op(lambda: self.engine.bridge(self.id, out.call_id))
            await self.guard(out.ended.wait())
            return True
        finally:
            if not out.ended.is_set():
                await self.engine.submit(lambda: self.engine.hangup(out.call_id))

    async def record(self, path: Path, *, max_seconds: float, silence_seconds: float) -> float:
        """Record the caller: ends on #, max_seconds, silence after speech, or hang-up (kept)."""
        await self.ready()
        path.parent.mkdir(parents=True, exist_ok=True)
        chunks: asyncio.Queue[bytes] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        token = self.engine.token()
        rate = self._rate()
        await self.guard(
            self._op(
                lambda: self.engine.call(self.id).listen(token, rate, lambda pcm: _post(loop, chunks, pcm))
            )
        )
        total = 0.0
        quiet = 0.0
        heard_voice = False
        deadline = time.monotonic() + max_seconds
        try:
            with wave.open(str(path), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(rate)
                while time.monotonic() < deadline:
                    if not self.digits.empty() and self.digits.get_nowait() == "#":
                        break
                    if self.ended.is_set():
                        break  # hanging up is how most callers end a message: keep it
                    try:
                        pcm = await asyncio.wait_for(chunks.get(), 0.5)
                    except TimeoutError:
                        continue
                    w.writeframes(pcm)
                    seconds = len(pcm) / (2 * rate)
                    total += seconds
                    if rms(pcm) > 300:
                        heard_voice, quiet = True, 0.0
                    else:
                        quiet += seconds
                    if heard_voice and quiet >= silence_seconds:
                        break
        finally:
            if not self.ended.is_set():
                with contextlib.suppress(Exception):
                    await self._op(lambda: self.engine.call(self.id).stop_listen(token))
        return total if heard_voice else 0.0

    async def hangup(self) -> None:
        if not self.ended.is_set():
            await self.engine.submit(lambda: self.engine.hangup(self.id))
