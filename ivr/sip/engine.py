"""The SIP engine: an async facade over the pj thread, which owns the pjsua2 Endpoint, its
transports and account, and every call object.

pjsua2 is a per-process singleton and not thread-safe from Python, so one thread creates the
Endpoint (threadCnt 0, mainThreadOnly) and loops on libHandleEvents, running queued commands
and ticking the conference bridge (ivr.sip.clock) between polls. asyncio code awaits the facade
(`await engine.play(call_id, path)`); each method queues a function for the pj thread and gets
its result through a future. Only this module and the pj-thread modules it uses (pjcall, endpoint,
admission) touch SWIG objects, and only on the pj thread. Callbacks copy fields into events
(ivr.sip.events) and post them to the loop with call_soon_threadsafe, where `Calls` routes them to
each call's `Call` handle. Calls are named by their SIP Call-ID; the pj thread maps it to the
PjCall, so a command queued for a call that has since ended finds nothing and raises CallGone
(or does nothing, for stop/hangup/unbridge) instead of reaching a new call in a reused pjsua slot.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import itertools
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pjsua2 as pj

from ivr.sip.admission import Admission
from ivr.sip.call import Call, Calls
from ivr.sip.clock import BridgeClock
from ivr.sip.endpoint import EngineConfig as EngineConfig
from ivr.sip.endpoint import account_config, open_endpoint
from ivr.sip.endpoint import registrar_host as registrar_host
from ivr.sip.events import CallGone, Event, IncomingCall, Registration
from ivr.sip.guard import Guard
from ivr.sip.heap import Heap
from ivr.sip.pjcall import MediaWatch, PjCall, uri_user

log = logging.getLogger(__name__)
T = TypeVar("T")
SWITCH_INTERVAL = 0.001  # seconds a thread waiting for the GIL lets the holder run


def _header(msg: str, name: str) -> str:
    key = name.lower() + ":"
    for line in msg.split("\r\n\r\n", 1)[0].split("\r\n"):
        if line.lower().startswith(key):
            return line[len(key) :].strip()
    return ""


class _Account(pj.Account):  # type: ignore[misc]
    def __init__(self, engine: SipEngine):
        super().__init__()
        self.engine = engine

    def onIncomingCall(self, prm: Any) -> None:
        try:
            self.engine._incoming(self, prm)
        except Exception:
            log.exception("onIncomingCall failed")

    def onRegState(self, prm: Any) -> None:
        try:
            self.engine._post(Registration(int(prm.code), str(prm.reason), int(prm.expiration)))
        except Exception:
            log.exception("onRegState failed")


class SipEngine:
    """The async facade. Public methods are for the loop; those below "pj thread" run on it."""

    def __init__(
        self,
        config: EngineConfig,
        *,
        on_incoming: Callable[[Call], None] | None = None,
        on_registration: Callable[[Registration], None] | None = None,
    ):
        self.config = config
        self.calls = Calls(on_incoming, on_registration)  # loop side: handles by call id
        self._loop: asyncio.AbstractEventLoop | None = None
        self._commands: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._ready = concurrent.futures.Future[None]()
        self._running = False
        self._pj: dict[str, PjCall] = {}  # pj thread only: live calls by SIP Call-ID
        self._forgotten: list[PjCall] = []  # dropped on the pj thread, after the callback returns
        self._tokens = itertools.count(1)
        self.max_calls = 0
        self.sip_port = 0
        self._ep: pj.Endpoint | None = None
        self._account: _Account | None = None
        self._writer: Any = None  # the log writer lives as long as the Endpoint
        self._clock: BridgeClock | None = None
        self._guard: Guard | None = None  # pjsip points at its module until libDestroy
        self.admission = Admission(config.allow, config.overload_ms, config.retry_after)  # pj thread
        # seconds from our 200 OK to the tick that sends a call's first prompt (pj thread appends)
        self.first_prompt: collections.deque[float] = collections.deque(maxlen=20000)
        self._watch = MediaWatch(config.media_timeout)  # pj thread
        self._heap = Heap()

    @property
    def clock_rate(self) -> int:
        return self.config.clock_rate

    # -- lifecycle --
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        # Every pjsua2 callback takes the GIL back from the loop; with Python's 5 ms switch
        # interval those waits were 22 % of the pj thread's time at 900 calls (py-spy).
        sys.setswitchinterval(SWITCH_INTERVAL)
        self._running = True
        self._thread = threading.Thread(target=self._run, name="pj", daemon=True)
        self._thread.start()
        await asyncio.wrap_future(self._ready)

    async def stop(self) -> None:
        if not self._running or self._thread is None or not self._thread.is_alive():
            self._running = False
            return
        # hang up while commands still work, so each flow sees its caller gone (CallerHangup)
        # instead of a command failing on a stopped engine
        with contextlib.suppress(Exception):
            await self._submit(self._pj_hangup_all)
            await self.calls.all_ended(2.0)
        self._running = False
        self._commands.put(None)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 15)

    # -- calls --
    async def dial(self, uri: str, headers: Mapping[str, str] | None = None) -> Call:
        """INVITE uri; the handle follows the call (ringing, answered, ended)."""
        hdrs = dict(headers or {})
        made = asyncio.ensure_future(self._submit(lambda: self._pj_dial(uri, hdrs)))
        try:
            call_id = await asyncio.shield(made)
        except asyncio.CancelledError:  # e.g. the caller left while the seat's INVITE was queued
            made.add_done_callback(self._hang_up_orphan)
            raise
        return self.calls.claim(Call(call_id))

    def _hang_up_orphan(self, made: asyncio.Future[str]) -> None:
        """A dial whose caller stopped waiting still made a call: hang it up."""
        if not made.cancelled() and made.exception() is None and self._running:
            call_id = made.result()
            self._commands.put((lambda: self._pj_hangup(call_id, 0), concurrent.futures.Future()))

    async def answer(self, call_id: str, status: int = 200) -> None:
        await self._submit(lambda: self._pj_answer(call_id, status))

    async def hangup(self, call_id: str, status: int = 0) -> None:
        await self._quietly(lambda: self._pj_hangup(call_id, status))

    async def send_dtmf(self, call_id: str, digits: str, method: str = "rfc2833") -> None:
        await self._submit(lambda: self._live(call_id).send_dtmf(digits, method))

    async def bridge(self, a: str, b: str) -> None:
        await self._submit(lambda: self._live(a).bridge(self._live(b)))

    async def unbridge(self, a: str, b: str) -> None:
        def run() -> None:
            ca, cb = self._pj.get(a), self._pj.get(b)
            if ca is not None and cb is not None:
                ca.unbridge(cb)

        await self._quietly(run)

    async def transmit(self, src: str, dst: str) -> None:
        """One way: what src's party says reaches dst (a leader listening in, a whisper)."""
        await self._submit(lambda: self._live(src).transmit(self._live(dst)))

    async def stop_transmit(self, src: str, dst: str) -> None:
        def run() -> None:
            cs, cd = self._pj.get(src), self._pj.get(dst)
            if cs is not None and cd is not None:
                cs.stop_transmit(cd)

        await self._quietly(run)

    async def renew_registration(self) -> None:
        await self._quietly(self._pj_register)

    # -- media --
    async def play(self, call_id: str, path: Path, loop: bool = False) -> int:
        token = next(self._tokens)
        await self._submit(lambda: self._pj_play(call_id, token, path, loop))
        return token

    def figures(self) -> dict[str, int]:
        """Loop side: what `ivr serve --status-file` publishes (and bench/calls.py reads)."""
        delays = sorted(self.first_prompt)

        def ms(q: float) -> int:
            return round(1000 * delays[min(len(delays) - 1, int(q * len(delays)))]) if delays else -1

        return {
            "rejected_503": self.admission.rejected,
            "refused_requests": self._guard.refused if self._guard is not None else 0,
            "first_prompt_p50_ms": ms(0.5),
            "first_prompt_p99_ms": ms(0.99),
            # bridge ticks given up because the pj thread was held (audio lost for every call)
            "bridge_ticks_skipped": self._clock.skipped if self._clock is not None else -1,
        }

    async def stop_playing(self, call_id: str, token: int) -> None:
        await self._quietly(lambda: self._each(call_id, lambda c: c.stop(token)))

    async def record(self, call_id: str, path: Path, also: Sequence[str] = ()) -> int:
        token = next(self._tokens)
        await self._submit(lambda: self._live(call_id).record(token, path, [self._live(o) for o in also]))
        return token

    async def stop_recording(self, call_id: str, token: int) -> None:
        await self._quietly(lambda: self._each(call_id, lambda c: c.stop_record(token)))

    async def listen(self, call_id: str, sink: Callable[[bytes], None]) -> int:
        """The one way pjmedia's audio reaches the loop: the capture callback (pjmedia's clock
        thread) hands each 100 ms chunk of 16-bit PCM at clock_rate to sink on the loop."""
        token = next(self._tokens)
        loop = asyncio.get_running_loop()

        def deliver(pcm: bytes) -> None:  # the bridge tick on the pj thread: hand over and return
            try:
                loop.call_soon_threadsafe(sink, pcm)
            except RuntimeError:  # the loop has closed: nobody is listening any more
                pass

        rate = self.config.clock_rate
        await self._submit(lambda: self._live(call_id).listen(token, rate, deliver))
        return token

    async def stop_listening(self, call_id: str, token: int) -> None:
        await self._quietly(lambda: self._each(call_id, lambda c: c.stop_listen(token)))

    # -- the seam --
    async def _submit(self, fn: Callable[[], T]) -> T:
        """Run fn on the pj thread; its result or exception comes back here."""
        if not self._running:
            raise RuntimeError("SIP engine is not running")
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._commands.put((fn, fut))
        return await asyncio.wrap_future(fut)

    async def _quietly(self, fn: Callable[[], None]) -> None:
        """A command that undoes something: nothing to do once the engine (and every call) is gone."""
        if self._running:
            await self._submit(fn)

    def _post(self, event: Event) -> None:
        """Any thread -> the loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self.calls.dispatch, event)
            except RuntimeError:  # closed meanwhile
                pass

    # -- pj thread --
    def _live(self, call_id: str) -> PjCall:
        call = self._pj.get(call_id)
        if call is None or call.ended:
            raise CallGone(call_id)
        return call

    def _each(self, call_id: str, fn: Callable[[PjCall], None]) -> None:
        call = self._pj.get(call_id)
        if call is not None:
            fn(call)

    def _forget(self, call: PjCall) -> None:
        if self._pj.get(call.key) is call:
            del self._pj[call.key]
        self._forgotten.append(call)

    def _run(self) -> None:
        try:
            self._create()
        except Exception as exc:
            # a SWIG error keeps its text in info(): the loop gets one it can print
            reason = RuntimeError(f"pjsua2: {exc.info()}") if isinstance(exc, pj.Error) else exc
            log.error("SIP endpoint failed to start: %s", reason)
            self._running = False  # before the loop hears of it: its stop() must not wait on us
            self._ready.set_exception(reason)
            return
        self._ready.set_result(None)
        try:
            while self._running:
                self._drain()
                wait = self._clock.due()  # type: ignore[union-attr]
                self.admission.behind(self._clock.behind_for)  # type: ignore[union-attr]
                self._watch.sweep(self._pj, self._pj_hangup)
                self._heap.watch(len(self._pj))
                # poll until the bridge's next tick at the latest (the GIL is free meanwhile)
                self._ep.libHandleEvents(wait)  # type: ignore[union-attr]
                self._forgotten.clear()
        finally:
            self._destroy()

    def _drain(self) -> None:
        for _ in range(1000):  # bounded, so SIP events keep flowing under a burst of commands
            try:
                item = self._commands.get_nowait()
            except queue.Empty:
                return
            if item is None:
                self._running = False
                return
            fn, fut = item
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(fn())
                except pj.Error as exc:  # a SWIG object: only its text leaves this thread
                    fut.set_exception(RuntimeError(f"pjsua2: {exc.info()}"))
                except BaseException as exc:
                    fut.set_exception(exc)

    def _create(self) -> None:
        c = self.config
        self._ep, self._writer, self.sip_port, self.max_calls, self._clock, self._guard = open_endpoint(c)
        self._account = _Account(self)
        self._account.create(account_config(c, self.sip_port))
        log.info(
            "SIP listening on %s:%d (%s)%s, real call limit %d",
            c.bind,
            self.sip_port,
            "/".join(c.transports),
            f", TLS on {c.bind}:{c.tls_port}" if c.tls_port else "",
            self.max_calls,
        )

    def _destroy(self) -> None:
        ep = self._ep
        if ep is None:
            return
        try:
            ep.hangupAllCalls()
            for _ in range(50):
                ep.libHandleEvents(10)
                if not self._pj:
                    break
        except Exception:
            log.exception("hangup at shutdown failed")
        self._pj.clear()
        self._forgotten.clear()
        self._account = None
        try:
            ep.libDestroy()
        except Exception:
            log.exception("libDestroy failed")
        self._ep = None
        self._guard = None

    def _incoming(self, acc: _Account, prm: Any) -> None:
        call = PjCall(acc, self._post, self._forget, prm.callId)
        source = str(prm.rdata.srcAddress)
        msg = str(prm.rdata.wholeMsg)
        first_line = msg.split("\r\n", 1)[0]
        parts = first_line.split()
        dialled = uri_user(parts[1]) if len(parts) > 1 else ""
        ci = call.info()
        status = self.admission.verdict(source, dialled, call.key in self._pj, len(self._pj), self.max_calls)
        if status:
            self.admission.refuse(call, status)
            self._forgotten.append(call)
            return
        self._pj[call.key] = call
        if self.config.auto_answer:
            op = pj.CallOpParam()
            op.statusCode = 200
            call.answer(op)
            call.answered_at = time.monotonic()
        # a leg from the hotline to a seat names the citizen in X-Hotline-Caller
        caller = _header(msg, "X-Hotline-Caller") or uri_user(str(ci.remoteUri))
        self._post(IncomingCall(call.key, caller, dialled, source))

    def _pj_dial(self, uri: str, headers: dict[str, str]) -> str:
        assert self._account is not None
        call = PjCall(self._account, self._post, self._forget)
        op = pj.CallOpParam(True)
        for name, value in headers.items():
            h = pj.SipHeader()
            h.hName = name
            h.hValue = value
            op.txOption.headers.append(h)
        call.makeCall(uri, op)
        if not call.key:  # no state callback yet: learn the Call-ID now
            call.info()
        if not call.ended:
            self._pj[call.key] = call
        return call.key

    def _pj_play(self, call_id: str, token: int, path: Path, loop: bool) -> None:
        call = self._live(call_id)
        call.play(token, path, loop)
        if call.answered_at and not call.prompted and self._clock is not None:
            call.prompted = True
            # its first packet leaves on the next tick, or now when the clock runs late
            self.first_prompt.append(max(self._clock.next_tick, time.monotonic()) - call.answered_at)

    def _pj_answer(self, call_id: str, status: int) -> None:
        op = pj.CallOpParam()
        op.statusCode = status
        self._live(call_id).answer(op)

    def _pj_hangup(self, call_id: str, status: int) -> None:
        call = self._pj.get(call_id)
        if call is None or call.ended:
            return
        op = pj.CallOpParam()
        if status:
            op.statusCode = status
        try:
            call.hangup(op)
        except pj.Error as exc:
            log.debug("hangup %s: %s", call_id, exc.info())

    def _pj_hangup_all(self) -> None:
        if self._ep is not None:
            self._ep.hangupAllCalls()

    def _pj_register(self) -> None:
        if self._account is not None:
            try:
                self._account.setRegistration(True)
            except pj.Error as exc:  # e.g. a registration already in progress
                log.debug("re-register: %s", exc.info())
