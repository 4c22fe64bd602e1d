"""The asyncio side of a call: one `Call` handle per call, incoming or dialled, and the `Engine`
protocol (the engine's async facade) that the leg, the seat line and the softphones drive.

Everything here runs on the event loop and holds only the call's id (its SIP Call-ID); the SWIG
objects stay on the pj thread inside ivr.sip.engine. `Calls` routes the engine's events to the
handle of each id, keeping events that arrive before a dial has returned its id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from ivr.race import first
from ivr.sip.events import CallEvent, CallState, Digit, Event, IncomingCall, MediaReady, Registration

log = logging.getLogger(__name__)

EARLY_KEPT = 256  # ids whose events wait for a claim; the oldest are dropped beyond this


class Call:
    """One SIP call as asyncio sees it: events for its states, the keys pressed, the last status."""

    def __init__(self, call_id: str, caller: str = "", dialled: str = "", source: str = "") -> None:
        self.id = call_id
        self.caller = caller
        self.dialled = dialled
        self.source = source  # "ip:port" an incoming INVITE came from
        self.ringing = asyncio.Event()
        self.answered = asyncio.Event()
        self.media_ready = asyncio.Event()
        self.ended = asyncio.Event()
        self.status = 0  # last SIP status code
        self.reason = ""
        self.digits: asyncio.Queue[str] = asyncio.Queue()
        self.key = asyncio.Event()  # set when a key arrives; whoever takes keys clears it

    def on_event(self, event: CallEvent) -> None:
        if isinstance(event, CallState):
            self.status, self.reason = event.status, event.reason
            if event.state == "EARLY":
                self.ringing.set()
            elif event.state == "CONFIRMED":
                self.answered.set()
            elif event.state == "DISCONNECTED":
                self.ended.set()
        elif isinstance(event, MediaReady):
            self.media_ready.set()
        elif isinstance(event, Digit):
            self.digits.put_nowait(event.digit)
            self.key.set()

    async def wait_answer(self, timeout: float) -> bool:
        """True once answered; False on failure, hang-up or timeout."""
        await first(self.answered.wait(), self.ended.wait(), timeout=timeout)
        return self.answered.is_set() and not self.ended.is_set()


class Calls:
    """Routes events to the handle of each call id; an incoming call gets its handle here."""

    def __init__(
        self,
        on_incoming: Callable[[Call], None] | None = None,
        on_registration: Callable[[Registration], None] | None = None,
    ) -> None:
        self._handles: dict[str, Call] = {}
        # events for ids not yet claimed (a dial's first states can beat its call id back)
        self._early: OrderedDict[str, list[CallEvent]] = OrderedDict()
        self.on_incoming = on_incoming or (lambda call: None)
        self.on_registration = on_registration or (lambda ev: None)

    def __len__(self) -> int:
        return len(self._handles)

    async def all_ended(self, timeout: float) -> None:
        """Wait, at most `timeout` seconds, until every call known here has ended."""
        waits = [call.ended.wait() for call in self._handles.values()]
        if waits:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*waits), timeout)

    def dispatch(self, event: Event) -> None:
        try:
            if isinstance(event, IncomingCall):
                call = self.claim(Call(event.call_id, event.caller, event.dialled, event.source))
                self.on_incoming(call)
            elif isinstance(event, Registration):
                self.on_registration(event)
            else:
                self._route(event)
        except Exception:
            log.exception("event %r failed", event)

    def _route(self, event: CallEvent) -> None:
        call = self._handles.get(event.call_id)
        if call is None:
            self._early.setdefault(event.call_id, []).append(event)
            while len(self._early) > EARLY_KEPT:
                self._early.popitem(last=False)
            return
        call.on_event(event)
        if isinstance(event, CallState) and event.state == "DISCONNECTED":
            self._handles.pop(event.call_id, None)

    def claim(self, call: Call) -> Call:
        """Route call.id's events to call, replaying any that came early."""
        self._handles[call.id] = call
        for event in self._early.pop(call.id, []):
            self._route(event)
        return call


class Engine(Protocol):
    """The async facade of the SIP engine (ivr.sip.engine.SipEngine; fakes in tests).

    Commands name a call by its id. On a call that has ended, stop_*, hangup and unbridge do
    nothing; the others raise `CallGone`.
    """

    @property
    def clock_rate(self) -> int:
        """Sample rate of the PCM that `listen` delivers."""
        ...

    async def dial(self, uri: str, headers: Mapping[str, str] | None = None) -> Call: ...

    async def answer(self, call_id: str, status: int = 200) -> None: ...

    async def hangup(self, call_id: str, status: int = 0) -> None: ...

    async def play(self, call_id: str, path: Path, loop: bool = False) -> int:
        """Start playing a WAV to the call; returns the token for `stop_playing`."""
        ...

    async def stop_playing(self, call_id: str, token: int) -> None: ...

    async def record(self, call_id: str, path: Path, also: Sequence[str] = ()) -> int:
        """Record what the call (and the `also` calls) send into a WAV; the token stops it."""
        ...

    async def stop_recording(self, call_id: str, token: int) -> None: ...

    async def listen(self, call_id: str, sink: Callable[[bytes], None]) -> int:
        """Hear the call: sink(pcm) runs on the loop with 16-bit mono PCM at clock_rate, 100 ms a
        chunk, until `stop_listening`."""
        ...

    async def stop_listening(self, call_id: str, token: int) -> None: ...

    async def send_dtmf(self, call_id: str, digits: str, method: str = "rfc2833") -> None: ...

    async def bridge(self, a: str, b: str) -> None:
        """Connect the audio of two calls both ways."""
        ...

    async def unbridge(self, a: str, b: str) -> None: ...

    async def transmit(self, src: str, dst: str) -> None:
        """Connect the audio one way: dst hears src (listening in, whispering)."""
        ...

    async def stop_transmit(self, src: str, dst: str) -> None: ...
