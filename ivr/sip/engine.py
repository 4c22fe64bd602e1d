"""The pj thread: owns the pjsua2 Endpoint, its transports and accounts, and every call object.

pjsua2 is a per-process singleton and not thread-safe from Python, so one thread creates the
Endpoint (threadCnt 0, mainThreadOnly) and loops on libHandleEvents, running submitted commands
between polls. asyncio code calls `await engine.submit(fn)`; callbacks post events to the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pjsua2 as pj

from ivr.sip import capture
from ivr.sip.events import Event, IncomingCall, Registration
from ivr.sip.pjcall import PjCall, uri_user

log = logging.getLogger(__name__)
pjlog = logging.getLogger("pjsip")
T = TypeVar("T")


@dataclass(frozen=True)
class EngineConfig:
    bind: str = "127.0.0.1"
    port: int = 5070  # 0: any free port
    transports: tuple[str, ...] = ("udp", "tcp")
    tls_port: int = 0
    tls_cert: str = ""
    tls_key: str = ""
    rtp_port: int = 20000
    rtp_port_range: int = 4000
    max_calls: int = 1000
    clock_rate: int = 8000
    user: str = "12345"  # our user part
    user_agent: str = "12345-hotline"
    allow: tuple[str, ...] | None = None  # None: accept INVITEs from anywhere (softphones)
    registrar: str = ""
    username: str = ""
    password: str = ""
    realm: str = "*"
    reg_expires: int = 300
    auto_answer: bool = True
    log_level: int = 3
    codecs: dict[str, int] = field(
        default_factory=lambda: {"PCMA/8000": 250, "PCMU/8000": 249, "G722/16000": 200}
    )


def registrar_host(uri: str) -> str:
    """'sip:gw.example.cn:5060;transport=udp' -> 'gw.example.cn'."""
    return uri.removeprefix("sip:").split(";")[0].rsplit(":", 1)[0]


def _header(msg: str, name: str) -> str:
    key = name.lower() + ":"
    for line in msg.split("\r\n\r\n", 1)[0].split("\r\n"):
        if line.lower().startswith(key):
            return line[len(key) :].strip()
    return ""


class _LogWriter(pj.LogWriter):  # type: ignore[misc]
    def write(self, entry: Any) -> None:
        level = logging.WARNING if entry.level <= 2 else logging.DEBUG
        pjlog.log(level, "%s", entry.msg.rstrip())


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
            self.engine.post(Registration(int(prm.code), str(prm.reason), int(prm.expiration)))
        except Exception:
            log.exception("onRegState failed")


class SipEngine:
    def __init__(self, config: EngineConfig, on_event: Callable[[Event], None]):
        self.config = config
        self._on_event = on_event
        self._loop: asyncio.AbstractEventLoop | None = None
        self._commands: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._ready = concurrent.futures.Future[None]()
        self._running = False
        self._calls: dict[int, PjCall] = {}  # pj thread only
        self._forgotten: list[PjCall] = []  # dropped on the pj thread, after the callback returns
        self._tokens = itertools.count(1)
        self.max_calls = 0
        self.sip_port = 0
        self.ep: pj.Endpoint | None = None
        self.account: _Account | None = None

    # -- lifecycle --
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._running = True
        self._thread = threading.Thread(target=self._run, name="pj", daemon=True)
        self._thread.start()
        await asyncio.wrap_future(self._ready)

    async def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        self._commands.put(None)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 15)

    def post(self, event: Event) -> None:
        """Any thread -> the asyncio loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._on_event, event)

    async def submit(self, fn: Callable[[], T]) -> T:
        """Run fn on the pj thread; its result or exception comes back here."""
        if not self._running:
            raise RuntimeError("SIP engine is not running")
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._commands.put((fn, fut))
        return await asyncio.wrap_future(fut)

    def token(self) -> int:
        return next(self._tokens)

    # -- pj thread --
    def _run(self) -> None:
        try:
            self._create()
        except Exception as exc:
            log.exception("SIP endpoint failed to start")
            self._ready.set_exception(exc)
            self._running = False
            return
        self._ready.set_result(None)
        try:
            while self._running:
                self._drain()
                # short polls: a submitted command waits at most this long (the GIL is free meanwhile)
                self.ep.libHandleEvents(2)  # type: ignore[union-attr]
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
                except BaseException as exc:
                    fut.set_exception(exc)

    def _create(self) -> None:
        c = self.config
        capture.quiet_pjlib()
        ep = pj.Endpoint()
        ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = c.max_calls
        cfg.uaConfig.userAgent = c.user_agent
        self._writer = _LogWriter()
        cfg.logConfig.writer = self._writer
        cfg.logConfig.level = c.log_level
        cfg.logConfig.consoleLevel = 0
        cfg.logConfig.decor = 0
        cfg.medConfig.clockRate = c.clock_rate
        cfg.medConfig.sndClockRate = c.clock_rate
        cfg.medConfig.ecTailLen = 0  # an IVR has no loudspeaker to cancel
        cfg.medConfig.noVad = True
        cfg.medConfig.maxMediaPorts = max(254, c.max_calls * 4)
        ep.libInit(cfg)
        self.ep = ep
        tcfg = pj.TransportConfig()
        tcfg.port = c.port
        tcfg.boundAddress = c.bind
        tcfg.publicAddress = c.bind
        transport_ids = []
        if "udp" in c.transports:
            transport_ids.append(ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg))
        if "tcp" in c.transports:
            transport_ids.append(ep.transportCreate(pj.PJSIP_TRANSPORT_TCP, tcfg))
        if c.tls_port:
            tls = pj.TransportConfig()
            tls.port = c.tls_port
            tls.boundAddress = c.bind
            tls.tlsConfig.certFile = c.tls_cert
            tls.tlsConfig.privKeyFile = c.tls_key
            ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, tls)
        self.sip_port = int(ep.transportGetInfo(transport_ids[0]).localName.rsplit(":", 1)[1])
        ep.libStart()
        ep.audDevManager().setNullDev()
        for codec in ep.codecEnum2():
            ep.codecSetPriority(codec.codecId, 0)
        for name, prio in c.codecs.items():
            try:
                ep.codecSetPriority(name, prio)
            except pj.Error:
                log.warning("codec %s not available", name)
        self.max_calls = min(c.max_calls, capture.max_calls())
        if self.max_calls < c.max_calls:
            log.warning(
                "pjsua2 limits this process to %d concurrent calls (asked %d)", self.max_calls, c.max_calls
            )
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{c.user}@{c.bind}:{self.sip_port}"
        acfg.mediaConfig.transportConfig.port = c.rtp_port
        acfg.mediaConfig.transportConfig.portRange = c.rtp_port_range
        acfg.mediaConfig.transportConfig.boundAddress = c.bind
        if c.registrar:
            acfg.idUri = f"sip:{c.username}@{registrar_host(c.registrar)}"
            acfg.regConfig.registrarUri = c.registrar
            acfg.regConfig.timeoutSec = c.reg_expires
            acfg.regConfig.retryIntervalSec = 5
            acfg.regConfig.firstRetryIntervalSec = 2
            acfg.regConfig.randomRetryIntervalSec = 2
            acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", c.realm, c.username, 0, c.password))
        self.account = _Account(self)
        self.account.create(acfg)
        log.info(
            "SIP listening on %s:%d (%s)%s, real call limit %d",
            c.bind,
            self.sip_port,
            "/".join(c.transports),
            f", TLS on {c.bind}:{c.tls_port}" if c.tls_port else "",
            self.max_calls,
        )

    def _destroy(self) -> None:
        ep = self.ep
        if ep is None:
            return
        try:
            ep.hangupAllCalls()
            for _ in range(50):
                ep.libHandleEvents(10)
                if not self._calls:
                    break
        except Exception:
            log.exception("hangup at shutdown failed")
        self._calls.clear()
        self._forgotten.clear()
        self.account = None
        try:
            ep.libDestroy()
        except Exception:
            log.exception("libDestroy failed")
        self.ep = None

    def _incoming(self, acc: _Account, prm: Any) -> None:
        call = PjCall(self, acc, prm.callId)
        source = str(prm.rdata.srcAddress)
        host = source.rsplit(":", 1)[0].strip("[]")
        msg = str(prm.rdata.wholeMsg)
        first_line = msg.split("\r\n", 1)[0]
        parts = first_line.split()
        dialled = uri_user(parts[1]) if len(parts) > 1 else ""
        ci = call.getInfo()
        allowed = self.config.allow
        if allowed is not None and host not in allowed:
            log.warning("INVITE from %s rejected with 403: not a trunk address (to %s)", source, dialled)
            call.silent = True
            op = pj.CallOpParam()
            op.statusCode = 403
            call.hangup(op)
            self._forgotten.append(call)
            return
        self._calls[ci.id] = call
        if self.config.auto_answer:
            op = pj.CallOpParam()
            op.statusCode = 200
            call.answer(op)
        # a leg from the hotline to a seat names the citizen in X-Hotline-Caller
        caller = _header(msg, "X-Hotline-Caller") or uri_user(str(ci.remoteUri))
        self.post(IncomingCall(ci.id, caller, dialled, source, str(ci.callIdString)))

    def forget(self, call_id: int) -> None:
        call = self._calls.pop(call_id, None)
        if call is not None:
            self._forgotten.append(call)

    def call(self, call_id: int) -> PjCall:
        """pj thread: the live call object or KeyError."""
        return self._calls[call_id]

    # -- commands (each runs on the pj thread via submit) --
    def make_call(self, uri: str, headers: dict[str, str] | None = None) -> int:
        assert self.account is not None
        call = PjCall(self, self.account)
        op = pj.CallOpParam(True)
        for name, value in (headers or {}).items():
            h = pj.SipHeader()
            h.hName = name
            h.hValue = value
            op.txOption.headers.append(h)
        call.makeCall(uri, op)
        cid = int(call.getId())
        self._calls[cid] = call
        return cid

    def answer(self, call_id: int, status: int = 200) -> None:
        op = pj.CallOpParam()
        op.statusCode = status
        self.call(call_id).answer(op)

    def hangup(self, call_id: int, status: int = 0) -> None:
        call = self._calls.get(call_id)
        if call is None or call.ended:
            return
        op = pj.CallOpParam()
        if status:
            op.statusCode = status
        try:
            call.hangup(op)
        except pj.Error as exc:
            log.debug("hangup %d: %s", call_id, exc.info())

    def send_dtmf(self, call_id: int, digits: str, method: str = "rfc2833") -> None:
        prm = pj.CallSendDtmfParam()
        prm.digits = digits
        prm.method = pj.PJSUA_DTMF_METHOD_SIP_INFO if method == "info" else pj.PJSUA_DTMF_METHOD_RFC2833
        self.call(call_id).sendDtmf(prm)

    def bridge(self, a: int, b: int) -> None:
        ca, cb = self.call(a), self.call(b)
        if ca.audio is None or cb.audio is None:
            raise RuntimeError("bridge needs active audio on both legs")
        ca.audio.startTransmit(cb.audio)
        cb.audio.startTransmit(ca.audio)

    def unbridge(self, a: int, b: int) -> None:
        ca, cb = self._calls.get(a), self._calls.get(b)
        if ca is None or cb is None or ca.audio is None or cb.audio is None:
            return
        for src, dst in ((ca.audio, cb.audio), (cb.audio, ca.audio)):
            try:
                src.stopTransmit(dst)
            except pj.Error:
                pass

    def active_calls(self) -> int:
        return len(self._calls)

    def registration_renew(self) -> None:
        if self.account is not None:
            try:
                self.account.setRegistration(True)
            except pj.Error as exc:  # e.g. a registration already in progress
                log.debug("re-register: %s", exc.info())
