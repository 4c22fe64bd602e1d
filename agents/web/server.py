"""The console's ASGI app and its in-process uvicorn: `ivr serve` starts it on its own loop
before SIP, so the first screen pop already has a page to land on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from agents.console import Console
from agents.controls import SeatControls
from agents.eventlog import EventLog
from agents.followups import FollowupDesk
from agents.quality import QualityDesk, Sampler
from agents.shared import AnyAcd
from agents.tickets.deadlines import Deadlines, DeadlineWatch
from agents.tickets.lifecycle import TicketLife
from agents.tickets.webhook import Webhook
from agents.web.articles import Articles
from agents.web.audit import AuditDesk
from agents.web.board import LiveBoard
from agents.web.calls import CallDesk
from agents.web.desk import Desk
from agents.web.dispatch import DispatchDesk
from agents.web.followups import FollowupPages
from agents.web.gate import Gate, allowed_hosts
from agents.web.guard import SigninGuard
from agents.web.hotspots import HotSpotDesk
from agents.web.knowledge import KnowledgeBase
from agents.web.listening import Leaders, Listening
from agents.web.live import LiveHub
from agents.web.openapi import spec
from agents.web.quality import QualityPages
from agents.web.recordings import RecordingDesk
from agents.web.reports import Reports
from agents.web.roster import RosterDesk
from agents.web.sessions import Sessions
from agents.web.supervision import Supervision
from agents.web.taxonomy import Taxonomy
from agents.web.units import UnitDesk
from ivr.accounts import AccountError, SeatAccounts
from ivr.audit import AuditTrail
from ivr.bus import Bus
from ivr.checklist import load_checklist
from ivr.config import ConfigError, Settings
from ivr.store import Store
from ivr.understanding import HotSpots

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
SWEEP_EVERY = 300.0  # seconds between sweeps of broker accounts whose session ended unseen


class _Uvicorn(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # `ivr serve` owns SIGINT/SIGTERM and stops the console itself


class ConsoleServer:
    def __init__(
        self,
        settings: Settings,
        acd: AnyAcd,
        store: Store,
        bus: Bus,
        events: EventLog,
        console: Console,
        *,
        taxonomy: Taxonomy | None = None,
        knowledge: KnowledgeBase | None = None,
        alert_wait_seconds: float | None = None,
        hotspots: HotSpots | None = None,
        accounts: SeatAccounts | None = None,
        life: TicketLife | None = None,
        watch_every: float = 60.0,
        leaders: Leaders | None = None,
        controls: SeatControls | None = None,
        led: bool = False,
    ) -> None:
        """`accounts`: issue each seat's console a broker account at sign-in (None: no MQTT
        accounts; the login answer's `mqtt` is null). `led`: the webhook sender is started and
        stopped by the centre's leader lease, not with the console (a node of a centre)."""
        self._led = led
        self.settings = settings
        web = settings.web
        self._sweeper: asyncio.Task[None] | None = None
        self.roster = RosterDesk(store, settings.seats, settings.queues, acd)
        self.audit = AuditTrail(store.audit)
        self.guard = SigninGuard(store.signins, settings.signin, self.audit, time.time)
        self.sessions = Sessions(
            settings.seats,
            settings.supervisors,
            store.sessions,
            self.guard,
            self.audit,
            signin=settings.signin,
            accounts=accounts,
            units=store.units,
            roster=lambda: self.roster.current,
            admin_password=web.admin_password,
        )
        self.deadlines, calendar_problem = Deadlines.from_settings(settings)
        self._calendar_problem = calendar_problem
        self.life = life or TicketLife(store, bus.topics, due=self.deadlines)
        console.life = self.life  # MQTT dispatches get the deadlines too
        f = settings.followup
        self.followups = FollowupDesk(
            self.life,
            delay_seconds=f.delay_minutes * 60.0,
            retry_seconds=f.retry_minutes * 60.0,
            max_attempts=f.max_attempts,
        )
        self.followup_pages = FollowupPages(
            self.sessions, self.followups, lambda sid: acd.seats[sid].settings.uri
        )
        hook = settings.webhook
        self.webhook = Webhook(store, hook.url, hook.secret, timeout=hook.timeout) if hook.url else None
        soon = settings.deadlines.due_soon_hours * 3600.0
        self.watch = DeadlineWatch(self.life, soon, every=watch_every)
        alert = settings.web.alert_wait_seconds if alert_wait_seconds is None else alert_wait_seconds
        self.board = LiveBoard(acd, store, alert, hotspots)
        self.desk = Desk(
            acd,
            store,
            bus.topics,
            console,
            self.sessions,
            taxonomy
            or Taxonomy.load(*([settings.resolve(t)] if (t := settings.understanding.taxonomy) else [])),
            knowledge or KnowledgeBase.load(),
            self.board.queue_of,
            self.life,
        )
        self.articles = Articles(self.sessions, store.knowledge, self.desk.knowledge)
        levels = {n: q.service_level_seconds for n, q in settings.queues.items()}
        roster = self.roster
        reports = Reports(
            store,
            levels,
            lambda: {s.id: s.name for s in roster.current.seats.values()},
            lambda: roster.current.seat_teams(),
        )
        self.listening = Listening(self.sessions, leaders)
        self.board.roster = lambda: roster.current
        self.board.supervised = self.listening.supervised
        self.calls = CallDesk(self.sessions, controls)  # hold, transfer, three-way, outbound
        self.hub = LiveHub(
            acd,
            store,
            self.desk,
            self.board,
            self.sessions,
            self.calls,
            ticket_seconds=settings.signin.ticket_seconds,
        )
        self.hub.attach()
        self.hotspots = HotSpotDesk(self.sessions, store, console, hotspots)
        supervision = Supervision(self.sessions, self.board, reports, self.oversight)
        self.quality = self._quality(store)
        self.recordings = RecordingDesk(self.sessions, settings.resolve(settings.store.recordings))
        self.audit_desk = AuditDesk(self.sessions)
        self.app = Starlette(routes=self._routes(supervision))
        self.tls = bool(web.cert and web.key)
        hosts = allowed_hosts(web.bind, web.hosts)
        self.gate = Gate(self.app, hosts, tls=self.tls, observe=self.audit_desk.observe)
        self.scheme = "https" if self.tls else "http"
        self.url = f"{self.scheme}://{web.bind}:{web.port}/"
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._events = events

    def _routes(self, supervision: Supervision) -> list[Route | Mount | WebSocketRoute]:
        async def openapi(_: Request) -> Response:
            return JSONResponse(spec())

        async def home(_: Request) -> Response:
            return RedirectResponse("/static/index.html")

        return [
            Route("/", home),
            Route("/api/openapi.json", openapi),
            *self.desk.routes(),
            *self.calls.routes(),
            *supervision.routes(),
            *self.hotspots.routes(),
            *UnitDesk(self.sessions, self.life).routes(),
            *DispatchDesk(self.sessions, self.life).routes(),
            *self.followup_pages.routes(),
            *self.articles.routes(),
            *self.quality.routes(),
            *self.roster.routes(self.sessions),
            *self.listening.routes(),
            *self.recordings.routes(),
            *self.audit_desk.routes(),
            *self.hub.routes(),
            WebSocketRoute("/api/live", self.hub.websocket),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]

    def _quality(self, store: Store) -> QualityPages:
        """质检: the checklist was checked with the config; a defect found now stops the start."""
        s = self.settings
        checklist = None
        if s.qa.checklist:
            checklist, problems = load_checklist(s.resolve(s.qa.checklist))
            if problems:
                raise ConfigError([f"{s.source}: [qa] checklist: {p}" for p in problems])
        self.sampler = Sampler(store.reviews, s.qa)
        self._sampling: asyncio.Task[None] | None = None
        desk = QualityDesk(store, checklist)
        roster = self.roster
        return QualityPages(
            self.sessions,
            desk,
            self.sampler,
            s.resolve(s.store.recordings),
            lambda: {seat.id: seat.name for seat in roster.current.seats.values()},
            lambda: roster.current.seat_teams(),
        )

    def oversight(self) -> dict[str, Any]:
        """督办 for the board: the watch's latest look and what is wrong with the calendar."""
        today = date.fromtimestamp(self.life.now())
        warnings = (
            [f"时限日历无法读取，工作日暂按周一至周五计算：{self._calendar_problem}"]
            if self._calendar_problem
            else []
        )
        gap = self.deadlines.calendar_warning(today, self.settings.deadlines.calendar_ahead_days)
        return {
            **self.watch.summary,
            "warnings": [*warnings, *([gap] if gap else [])],
            "now": self.life.now(),
        }

    async def start(self) -> None:
        await self.roster.load()
        await self.board.load()
        await self.articles.reload()
        self.watch.start()
        if self.webhook is not None and not self._led:
            self.webhook.start()
        web = self.settings.web
        # bind the socket ourselves: port 0 then has a real number before uvicorn runs
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((web.bind, web.port))
        sock.listen(128)
        sock.setblocking(False)
        port = int(sock.getsockname()[1])
        self.url = f"{self.scheme}://{web.bind}:{port}/"
        tls: dict[str, Any] = (
            {
                "ssl_certfile": str(self.settings.resolve(web.cert)),
                "ssl_keyfile": str(self.settings.resolve(web.key)),
            }
            if self.tls
            else {}
        )
        config = uvicorn.Config(
            self.gate, log_level="warning", lifespan="off", ws="websockets-sansio", server_header=False, **tls
        )
        server = _Uvicorn(config)
        self._server = server
        await self.hub.start()
        self._task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]), name="console-http")
        for _ in range(200):  # up to 10 s: started means accepting connections
            if server.started or self._task.done():
                break
            await asyncio.sleep(0.05)
        if self._task.done():
            self._task.result()  # surface why it could not start
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="console-accounts")
        self._sampling = asyncio.get_running_loop().create_task(self.sampler.run(), name="qa-sampling")
        log.info("console on %s", self.url)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            try:
                await self.guard.prune()
            except Exception:  # the next sweep tries again
                log.exception("old sign-in failure counts not pruned")
            try:
                gone = await self.sessions.sweep_accounts()
            except AccountError as exc:
                log.warning("broker accounts not swept: %s", exc)
                continue
            if gone:
                log.info("%d broker account(s) of ended sessions deleted", gone)

    async def stop(self) -> None:
        for task in (self._sweeper, self._sampling):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.watch.stop()
        await self.roster.close()
        if self.webhook is not None:
            await self.webhook.stop()
        await self.hub.stop()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 5)
            except TimeoutError:
                self._server.force_exit = True
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
