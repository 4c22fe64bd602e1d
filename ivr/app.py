"""Composition root: builds the SIP engine, speech, flows and the queue, and runs each call."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from ivr.config import Settings
from ivr.control import CallerHangup
from ivr.sip.engine import EngineConfig, SipEngine
from ivr.sip.events import IncomingCall, Registration
from ivr.sip.leg import Leg, Recognizer, Voice
from ivr.sip.router import CallRouter
from ivr.welcome import welcome_menu

log = logging.getLogger(__name__)

CallHandler = Callable[[Leg, list[str]], Awaitable[None]]


def engine_config(settings: Settings, sip_port: int | None = None) -> EngineConfig:
    s, t = settings.sip, settings.trunk
    allow: tuple[str, ...] = tuple(t.allow)
    if t.mode == "register" and t.registrar:
        host = t.registrar.removeprefix("sip:").split(";")[0].rsplit(":", 1)[0]
        allow = (*allow, host)
    return EngineConfig(
        bind=s.bind,
        port=s.port if sip_port is None else sip_port,
        transports=s.transports,
        tls_port=s.tls_port,
        tls_cert=str(settings.resolve(s.tls_cert)) if s.tls_cert else "",
        tls_key=str(settings.resolve(s.tls_key)) if s.tls_key else "",
        rtp_port=s.rtp_port,
        rtp_port_range=s.rtp_port_range,
        max_calls=s.max_calls,
        clock_rate=s.clock_rate,
        user=s.public_name,
        allow=allow,
        registrar=t.registrar if t.mode == "register" else "",
        username=t.username,
        password=t.password,
        realm=t.realm,
        reg_expires=t.expires,
    )


@dataclass
class LineStats:
    answered: int = 0
    completed: int = 0
    caller_hangups: int = 0
    failed: int = 0
    active: int = 0
    registration: str = "n/a"
    paths: list[list[str]] = field(default_factory=list)


class Hotline:
    def __init__(
        self,
        settings: Settings,
        *,
        voice: Voice,
        recognizer: Recognizer | None = None,
        sip_port: int | None = None,
        handler: CallHandler | None = None,
    ):
        self.settings = settings
        self.voice = voice
        self.recognizer = recognizer
        self.router = CallRouter()
        self.engine = SipEngine(engine_config(settings, sip_port), self.router.dispatch)
        self.router.on_incoming = self._incoming
        self.router.on_registration = self._registration
        self.handler: CallHandler = handler or welcome_menu
        self.stats = LineStats()
        self.legs: dict[int, Leg] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.audio_dir = settings.resolve("audio")
        self._reg_backoff = 0.0
        self._reg_retry: asyncio.Future[None] | None = None

    async def start(self) -> None:
        await self.engine.start()

    async def stop(self) -> None:
        if self._reg_retry is not None:
            self._reg_retry.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        await self.engine.stop()

    def _registration(self, ev: Registration) -> None:
        if 200 <= ev.code < 300 and ev.expires > 0:
            self.stats.registration = f"registered ({ev.expires} s)"
            self._reg_backoff = 0.0
            log.info("trunk registration: %d %s, expires in %d s", ev.code, ev.reason, ev.expires)
            return
        self.stats.registration = f"failed: {ev.code} {ev.reason}"
        # pjsua gives up on some codes (403 among them); a trunk must keep trying, backing off
        self._reg_backoff = min(300.0, self._reg_backoff * 2 or 2.0)
        hint = "; check [trunk] username and password" if ev.code in (401, 403, 407) else ""
        log.error(
            "trunk registration failed: %d %s%s; retrying in %.0f s",
            ev.code,
            ev.reason,
            hint,
            self._reg_backoff,
        )
        if self._reg_retry is None or self._reg_retry.done():
            self._reg_retry = asyncio.ensure_future(self._retry_registration(self._reg_backoff))

    async def _retry_registration(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.engine.submit(self.engine.registration_renew)

    def _incoming(self, ev: IncomingCall) -> None:
        leg = Leg(
            self.engine,
            ev.call_id,
            ev.caller,
            ev.dialled,
            voice=self.voice,
            recognizer=self.recognizer,
            audio_dir=self.audio_dir,
            router=self.router,
            sip_call_id=ev.sip_call_id,
            source=ev.source,
        )
        self.router.claim(ev.call_id, leg)
        self.legs[ev.call_id] = leg
        self.stats.answered += 1
        self.stats.active += 1
        log.info("call %s from %s to %s (%s)", ev.call_id, ev.caller, ev.dialled, ev.source)
        task = asyncio.ensure_future(self._run(leg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, leg: Leg) -> None:
        started = time.monotonic()
        path: list[str] = []
        try:
            await self.handler(leg, path)
            self.stats.completed += 1
        except CallerHangup:
            self.stats.caller_hangups += 1
        except Exception:
            self.stats.failed += 1
            log.exception("call %s: handler failed", leg.id)
        finally:
            self.stats.active -= 1
            self.legs.pop(leg.id, None)
            self.stats.paths.append(path)
            del self.stats.paths[:-100]
            with contextlib.suppress(Exception):
                await leg.hangup()
            log.info("call %s ended after %.1f s: %s", leg.id, time.monotonic() - started, " > ".join(path))


def audio_file(settings: Settings, name: str) -> Path:
    return settings.resolve("audio") / name
