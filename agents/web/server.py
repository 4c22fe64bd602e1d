"""The console's ASGI app and its in-process uvicorn: `ivr serve` starts it on its own loop
before SIP, so the first screen pop already has a page to land on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
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
from agents.eventlog import EventLog
from agents.followups import FollowupDesk
from agents.shared import AnyAcd
from agents.tickets.deadlines import Deadlines, DeadlineWatch
from agents.tickets.lifecycle import TicketLife
from agents.tickets.webhook import Webhook
from agents.web.articles import Articles
from agents.web.board import LiveBoard
from agents.web.desk import Desk
from agents.web.dispatch import DispatchDesk
from agents.web.followups import FollowupPages
from agents.web.hotspots import HotSpotDesk
from agents.web.knowledge import KnowledgeBase
from agents.web.live import LiveHub
from agents.web.openapi import spec
from agents.web.reports import Reports
from agents.web.sessions import Sessions
from agents.web.supervision import Supervision
from agents.web.taxonomy import Taxonomy
from agents.web.units import UnitDesk
from ivr.accounts import AccountError, SeatAccounts
from ivr.bus import Bus
from ivr.config import Settings
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
        led: bool = False,
    ) -> None:
        """`accounts`: issue each seat's console a broker account at sign-in (None: no MQTT
        accounts; the login answer's `mqtt` is null). `led`: the webhook sender is started and
        stopped by the centre's leader lease, not with the console (a node of a centre)."""
        self._led = led
        self.settings = settings
        web = settings.web
        self._sweeper: asyncio.Task[None] | None = None
        self.sessions = Sessions(
            settings.seats, web.supervisor_password, store.sessions, accounts=accounts, units=store.units
        )
        self.deadlines, calendar_problem = Deadlines.from_settings(settings)
        self._calendar_problem = calendar_problem
        self.life = life or TicketLife(store, bus.topics, due=self.deadlines)
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
            taxonomy or Taxonomy.load(),
            knowledge or KnowledgeBase.load(),
            self.board.queue_of,
            self.life,
        )
        self.articles = Articles(self.sessions, store.knowledge, self.desk.knowledge)
        levels = {n: q.service_level_seconds for n, q in settings.queues.items()}
        reports = Reports(store, levels, {s.id: s.name for s in settings.seats})
        self.hub = LiveHub(acd, store, self.desk, self.board, self.sessions)
        self.hub.attach()
        self.hotspots = HotSpotDesk(self.sessions, store, console, hotspots)
        supervision = Supervision(self.sessions, self.board, reports, self.oversight)
        self.app = Starlette(routes=self._routes(supervision))
        self.url = f"http://{web.bind}:{web.port}/"
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
            *supervision.routes(),
            *self.hotspots.routes(),
            *UnitDesk(self.sessions, self.life).routes(),
            *DispatchDesk(self.sessions, self.life).routes(),
            *self.followup_pages.routes(),
            *self.articles.routes(),
            WebSocketRoute("/api/live", self.hub.websocket),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]

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
        self.url = f"http://{web.bind}:{port}/"
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", ws="websockets-sansio")
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
        log.info("console on %s", self.url)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            try:
                gone = await self.sessions.sweep_accounts()
            except AccountError as exc:
                log.warning("broker accounts not swept: %s", exc)
                continue
            if gone:
                log.info("%d broker account(s) of ended sessions deleted", gone)

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.watch.stop()
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
