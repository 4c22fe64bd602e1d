"""One caller's leg as the flow sees it: the SIP implementation of `CallControl`.

The leg lives on the asyncio side: it holds the call's `Call` handle (its id, events and keys)
and drives the call only through the engine's async facade (`ivr.sip.call.Engine`). A caller
who hangs up while a command is queued or running surfaces as `CallerHangup`, never as an error.
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
from ivr.race import discard, first
from ivr.records import QueueRequest, QueueResult
from ivr.sip.call import Call, Engine
from ivr.sip.events import CallGone

log = logging.getLogger(__name__)
T = TypeVar("T")


class Voice(Protocol):
    async def render(self, text: str) -> Path: ...


class Listening(Protocol):
    speech_started: asyncio.Event

    def feed(self, pcm: bytes) -> None:
        """16-bit mono PCM at the engine's clock rate, on the loop (from `engine.listen`)."""
        ...

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


def _read_error(fut: asyncio.Future[int]) -> None:
    if not fut.cancelled():
        fut.exception()  # read here; whoever awaits the future still gets it


class Leg:
    def __init__(
        self,
        engine: Engine,
        call: Call,
        *,
        voice: Voice,
        recognizer: Recognizer | None = None,
        audio_dir: Path = Path("audio"),
        enqueue: Enqueue | None = None,
    ):
        self.engine = engine
        self.call = call
        self.id = call.id  # the SIP Call-ID: the one id of this call everywhere
        self.source = call.source
        self.voice = voice
        self.recognizer = recognizer
        self.audio_dir = audio_dir
        self._enqueue = enqueue
        self.digits = call.digits
        self.key = call.key  # set while a key is waiting in `digits`
        self.media_ready = call.media_ready
        self.ended = call.ended
        self.started = time.monotonic()
        self.flow = ""  # the flow this call runs (for the screen pop and the call record)
        self.connected = False  # bridged to an operator
        self._hold: asyncio.Future[int] | None = None  # the looping hold-music player's token

    # -- CallControl identity --
    @property
    def call_id(self) -> str:
        return self.id

    @property
    def caller(self) -> str:
        return self.call.caller

    @property
    def dialled(self) -> str:
        return self.call.dialled

    @property
    def origin(self) -> str:
        return self.call.source

    async def guard(self, aw: Awaitable[T]) -> T:
        """Await aw unless the caller hangs up first: then CallerHangup (also when a command
        finds the call gone), with aw cancelled, or closed if it never started. Pass a plain
        coroutine or task: a coroutine wrapping another unstarted one (`wait_for(x.wait())`)
        cannot be closed cleanly; use `_race(..., timeout=)` for those."""
        if self.ended.is_set():
            discard(aw)
            raise CallerHangup()
        task = asyncio.ensure_future(aw)
        await self._race(task)
        try:
            return task.result()
        except CallGone as gone:
            if gone.call_id == self.id:
                raise CallerHangup() from None
            raise

    async def _race(self, *aws: Awaitable[Any], timeout: float | None = None) -> asyncio.Future[Any] | None:
        """`first` of aws (None on timeout), or CallerHangup if the caller hangs up before."""
        if self.ended.is_set():
            for aw in aws:
                discard(aw)
            raise CallerHangup()
        ended = asyncio.ensure_future(self.ended.wait())
        won = await first(*aws, ended, timeout=timeout)
        if won is ended:
            raise CallerHangup()
        return won

    async def ready(self, timeout: float = 5.0) -> None:
        if await self._race(self.media_ready.wait(), timeout=timeout) is None:
            # no audio after our answer: the caller never ACKed it (ivr.sip.pjcall logs that
            # once); a call that ends this way is a protocol event, not a failure of the flow
            await self.hangup()
            raise CallerHangup()

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
        token = await self.guard(self.engine.play(self.id, path))
        try:
            await self._race(
                asyncio.sleep(wav_seconds(path) + 0.05), *([interrupt.wait()] if interrupt else [])
            )
            return interrupt is not None and interrupt.is_set()
        finally:
            await self.engine.stop_playing(self.id, token)

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
            key = await self._race(self.digits.get(), timeout=timeout)
            if key is None:
                break
            d: str = key.result()
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
        started = time.monotonic()
        try:
            if speech is not None and self.recognizer is not None:
                # with barge-in it listens through the prompt; the no-input clock starts at its end
                session = self.recognizer.listen(speech, self.engine.clock_rate, armed=not barge_in)
                token = await self.guard(self.engine.listen(self.id, session.feed))
                started = time.monotonic()
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
            return await self._await_input(digits, session, started)
        finally:
            if session is not None:
                session.close()
            if token:
                await self.engine.stop_listening(self.id, token)

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
        won = await self._race(*([key_task] if key_task else []), speech_task)
        if won is key_task and key_task is not None and digits is not None:
            key = key_task.result()
            if digits.terminator and key == digits.terminator:
                return Heard("noinput")
            rest = (
                ""
                if digits.max_digits == 1
                else await self._collect(
                    replace(digits, max_digits=digits.max_digits - 1), digits.inter_timeout
                )
            )
            return Heard("dtmf", key + rest, 1.0, time.monotonic() - started)
        return speech_task.result()

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
        # kept as a future, so a stop that comes while the start is still queued stops it too
        hold = asyncio.ensure_future(self.engine.play(self.id, path, loop=True))
        hold.add_done_callback(_read_error)
        self._hold = hold
        with contextlib.suppress(CallGone):  # the caller hung up meanwhile: nothing to hold
            await asyncio.shield(hold)

    async def stop_hold_music(self) -> None:
        hold, self._hold = self._hold, None
        if hold is None:
            return
        try:
            token = await asyncio.shield(hold)
        except Exception:  # it never started
            return
        await self.engine.stop_playing(self.id, token)

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
        host = self.source.rsplit(":", 1)[0] or "127.0.0.1"
        uri = target if target.startswith("sip:") else f"sip:{target}@{host}"
        out = await self.guard(self.engine.dial(uri))
        try:
            if not await self.guard(out.wait_answer(30)):
                return False
            if await self._race(out.media_ready.wait(), timeout=5) is None:
                return False
            await self.guard(self.engine.bridge(self.id, out.id))
            await self.guard(out.ended.wait())
            return True
        except CallGone:  # the target hung up before the bridge (our own end is CallerHangup)
            return False
        finally:
            if not out.ended.is_set():
                await self.engine.hangup(out.id)

    async def record(self, path: Path, *, max_seconds: float, silence_seconds: float) -> float:
        """Record the caller: ends on #, max_seconds, silence after speech, or hang-up (kept)."""
        await self.ready()
        path.parent.mkdir(parents=True, exist_ok=True)
        chunks: asyncio.Queue[bytes] = asyncio.Queue()
        rate = self.engine.clock_rate
        token = await self.guard(self.engine.listen(self.id, chunks.put_nowait))
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
            await self.engine.stop_listening(self.id, token)
        return total if heard_voice else 0.0

    async def hangup(self) -> None:
        if not self.ended.is_set():
            await self.engine.hangup(self.id)
