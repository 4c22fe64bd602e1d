"""A fake SIP engine for in-process tests of the leg, the call handle and the seat line.

It implements the engine's async facade (`ivr.sip.call.Engine`), records every command, and
routes events through the real `Calls` table; the test plays the far ends with `pick_up`,
`hang_up` and `press`. Commands can be held "queued" (as on a busy pj thread) with `hold`.
"""

from __future__ import annotations

import asyncio
import itertools
import wave
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.sip.call import Call, Calls
from ivr.sip.events import CallGone, CallState, Digit, Event, IncomingCall, MediaReady


@dataclass(frozen=True)
class Command:
    name: str
    call_id: str
    args: tuple[Any, ...] = ()


class FakeEngine:
    clock_rate = 8000

    def __init__(self) -> None:
        self.calls = Calls()
        self.commands: list[Command] = []
        self.live: set[str] = set()  # calls the "pj thread" still has
        self.sinks: dict[int, Callable[[bytes], None]] = {}
        self.playing: set[int] = set()
        self.recording: set[int] = set()
        self.bridged: set[frozenset[str]] = set()
        self.routes: set[tuple[str, str]] = set()  # one-way audio: (src, dst)
        self.hold: asyncio.Event | None = None  # while set to an unset Event, commands wait
        self.dial_error: Exception | None = None
        self.on_dial: Callable[[Call], None] = lambda call: None  # the far end of a dial
        self._tokens = itertools.count(1)
        self._ids = itertools.count(1)

    # -- the test's side --
    def names(self) -> list[str]:
        return [c.name for c in self.commands]

    def of(self, name: str) -> list[Command]:
        return [c for c in self.commands if c.name == name]

    def post(self, event: Event) -> None:
        """As the pj thread does: the event lands on the loop a moment later."""
        asyncio.get_running_loop().call_soon(self.calls.dispatch, event)

    def incoming(self, caller: str = "13800138000", dialled: str = "12345") -> Call:
        """An answered incoming call with audio (its handle, as the hotline would get it)."""
        call_id = f"in-{next(self._ids)}@test"
        self.live.add(call_id)
        got: list[Call] = []
        self.calls.on_incoming = got.append
        self.calls.dispatch(IncomingCall(call_id, caller, dialled, "127.0.0.1:5060"))
        self.calls.dispatch(CallState(call_id, "CONFIRMED", 200, "OK"))
        self.calls.dispatch(MediaReady(call_id))
        return got[0]

    def pick_up(self, call_id: str) -> None:
        """The far end of a dial answers, with audio."""
        self.post(CallState(call_id, "CONFIRMED", 200, "OK"))
        self.post(MediaReady(call_id))

    def hang_up(self, call_id: str, status: int = 200, *, event: bool = True) -> None:
        """The far end hangs up: gone on the pj thread at once, its event follows (if `event`)."""
        self.live.discard(call_id)
        if event:
            self.post(CallState(call_id, "DISCONNECTED", status, "Normal call clearing"))

    def press(self, call_id: str, digit: str) -> None:
        self.post(Digit(call_id, digit, "rfc2833"))

    def hear(self, token: int, pcm: bytes) -> None:
        self.sinks[token](pcm)

    # -- the facade --
    async def _run(self, name: str, call_id: str, *args: Any, quiet: bool = False) -> None:
        self.commands.append(Command(name, call_id, args))
        if self.hold is not None:
            await self.hold.wait()
        if call_id not in self.live and not quiet:
            raise CallGone(call_id)

    async def dial(self, uri: str, headers: Mapping[str, str] | None = None) -> Call:
        await self._run("dial", "", uri, dict(headers or {}), quiet=True)
        if self.dial_error is not None:
            raise self.dial_error
        call_id = f"out-{next(self._ids)}@test"
        self.live.add(call_id)
        # pjsua posts CALLING from inside makeCall, before the dial returns the id
        self.calls.dispatch(CallState(call_id, "CALLING", 0, ""))
        call = self.calls.claim(Call(call_id))
        self.on_dial(call)
        return call

    async def answer(self, call_id: str, status: int = 200) -> None:
        await self._run("answer", call_id, status)

    async def hangup(self, call_id: str, status: int = 0) -> None:
        await self._run("hangup", call_id, status, quiet=True)
        if call_id in self.live:
            self.hang_up(call_id, 200)

    async def play(self, call_id: str, path: Path, loop: bool = False) -> int:
        token = next(self._tokens)
        await self._run("play", call_id, path.name, loop, token)
        self.playing.add(token)
        return token

    async def stop_playing(self, call_id: str, token: int) -> None:
        await self._run("stop_playing", call_id, token, quiet=True)
        self.playing.discard(token)

    async def record(self, call_id: str, path: Path, also: Sequence[str] = ()) -> int:
        token = next(self._tokens)
        await self._run("record", call_id, path.name, tuple(also), token)
        for other in also:
            if other not in self.live:
                raise CallGone(other)
        self.recording.add(token)
        return token

    async def stop_recording(self, call_id: str, token: int) -> None:
        await self._run("stop_recording", call_id, token, quiet=True)
        self.recording.discard(token)

    async def listen(self, call_id: str, sink: Callable[[bytes], None]) -> int:
        token = next(self._tokens)
        await self._run("listen", call_id, token)
        self.sinks[token] = sink
        return token

    async def stop_listening(self, call_id: str, token: int) -> None:
        await self._run("stop_listening", call_id, token, quiet=True)
        self.sinks.pop(token, None)

    async def send_dtmf(self, call_id: str, digits: str, method: str = "rfc2833") -> None:
        await self._run("send_dtmf", call_id, digits, method)

    async def bridge(self, a: str, b: str) -> None:
        await self._run("bridge", a, b)
        if b not in self.live:
            raise CallGone(b)
        self.bridged.add(frozenset((a, b)))

    async def unbridge(self, a: str, b: str) -> None:
        await self._run("unbridge", a, b, quiet=True)
        self.bridged.discard(frozenset((a, b)))

    async def transmit(self, src: str, dst: str) -> None:
        await self._run("transmit", src, dst)
        if dst not in self.live:
            raise CallGone(dst)
        self.routes.add((src, dst))

    async def stop_transmit(self, src: str, dst: str) -> None:
        await self._run("stop_transmit", src, dst, quiet=True)
        self.routes.discard((src, dst))


def silence(path: Path, seconds: float, rate: int = 8000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(seconds * rate))
    return path


async def settle(rounds: int = 5) -> None:
    """Let posted events and the tasks they wake run."""
    for _ in range(rounds):
        await asyncio.sleep(0)
