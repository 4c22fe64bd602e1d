"""Routes engine events to the object that owns each call id (a caller's Leg, an outbound dial)."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from ivr.sip.engine import SipEngine
from ivr.sip.events import CallState, Event, IncomingCall, MediaReady, Registration

log = logging.getLogger(__name__)


class Listener(Protocol):
    def on_event(self, event: Event) -> None: ...


class OutboundCall:
    """A leg we dialled: a seat, a transfer target, or the softphone's call."""

    def __init__(self, call_id: int):
        self.call_id = call_id
        self.answered = asyncio.Event()
        self.ended = asyncio.Event()
        self.media_ready = asyncio.Event()
        self.status = 0
        self.reason = ""
        self.ringing = asyncio.Event()
        self.digits: asyncio.Queue[str] = asyncio.Queue()

    def on_event(self, event: Event) -> None:
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
        else:
            digit = getattr(event, "digit", None)
            if digit is not None:
                self.digits.put_nowait(digit)

    async def wait_answer(self, timeout: float) -> bool:
        """True once answered; False on failure, hang-up or timeout."""
        a = asyncio.ensure_future(self.answered.wait())
        e = asyncio.ensure_future(self.ended.wait())
        try:
            await asyncio.wait({a, e}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            a.cancel()
            e.cancel()
        return self.answered.is_set() and not self.ended.is_set()


class CallRouter:
    def __init__(self) -> None:
        self.listeners: dict[int, Listener] = {}
        # events for ids not yet claimed (a dial's first states can beat its call id back)
        self._early: OrderedDict[int, list[Event]] = OrderedDict()
        self.on_incoming: Callable[[IncomingCall], None] = lambda ev: None
        self.on_registration: Callable[[Registration], None] = lambda ev: None

    def dispatch(self, event: Event) -> None:
        try:
            if isinstance(event, IncomingCall):
                self.on_incoming(event)
                return
            if isinstance(event, Registration):
                self.on_registration(event)
                return
            listener = self.listeners.get(event.call_id)
            if listener is None:
                self._early.setdefault(event.call_id, []).append(event)
                while len(self._early) > 256:
                    self._early.popitem(last=False)
                return
            listener.on_event(event)
            if isinstance(event, CallState) and event.state == "DISCONNECTED":
                self.listeners.pop(event.call_id, None)
        except Exception:
            log.exception("event %r failed", event)

    def claim(self, call_id: int, listener: Listener) -> None:
        """Route call_id's events to listener, replaying any that came early."""
        self.listeners[call_id] = listener
        for event in self._early.pop(call_id, []):
            self.dispatch(event)

    async def dial(self, engine: SipEngine, uri: str, headers: dict[str, str] | None = None) -> OutboundCall:
        call_id = await engine.submit(lambda: engine.make_call(uri, headers))
        out = OutboundCall(call_id)
        self.claim(call_id, out)
        return out
