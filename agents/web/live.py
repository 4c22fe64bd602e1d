"""Live updates over one WebSocket per page (/api/live?ticket=...).

Browsers cannot put an Authorization header on a WebSocket, and a session token in a URL would
end up in logs: the page first asks `POST /api/live/ticket` (with its token in the header) for a
ticket that opens one socket, once, within `[signin] ticket_seconds`. While the socket is open its
pings re-check the session, so a sign-out on another node, the idle limit or the session's
lifetime closes it (`revoked`), and an open console counts as in use.

A seat's page gets its state changes and its screen pops; a supervisor's page gets the board.
Pops cannot be lost: the page asks for the current offer (GET /api/seats/{id}/offer) whenever it
(re)connects, and the hub pushes a pop as soon as the ACD's outbox row for it is committed,
which happens before the seat's phone rings. Messages are JSON objects with a `type`:
`seat`, `offer`, `board`, `error` (then the socket closes with a 44xx code), `revoked`, and
`call` (the seat's call controls' view). A seat's page may send `{"type": "control", "id": ...,
"action": ...}` (as POST /api/seats/{id}/call takes it); the answer is a `control` message with
the same id and `ok`, or `status` and `error`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.websockets import WebSocket, WebSocketDisconnect

from agents.shared import AnyAcd
from agents.web.api import ApiError, endpoint, token_of
from agents.web.board import LiveBoard
from agents.web.calls import CallDesk
from agents.web.desk import ON_CALL, Desk
from agents.web.sessions import SUPERVISOR, Session, Sessions
from ivr.race import first
from ivr.records import QueueEvent, SeatEvent
from ivr.store import Store

log = logging.getLogger(__name__)

BOARD_EVERY = 2.0  # seconds between board pushes when nothing changed (wait times still grow)
BOARD_SOON = 0.25  # after a change, at most this late
QUEUE_MAX = 500  # messages waiting for one slow page before it is dropped (it reconnects)
TICKETS_MAX = 10_000  # unused tickets kept at most (each expires within seconds anyway)


@dataclass(eq=False)
class Client:
    session: Session
    outbox: asyncio.Queue[dict[str, Any] | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_MAX))
    last_pop: str = ""  # envelope id of the pop last sent
    dropped: bool = False
    tasks: set[asyncio.Task[None]] = field(default_factory=set)  # call controls under way

    def send(self, message: dict[str, Any] | None) -> None:
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped = True  # the sender sees the flag and closes; the page reconnects


class LiveHub:
    def __init__(
        self,
        acd: AnyAcd,
        store: Store,
        desk: Desk,
        board: LiveBoard,
        sessions: Sessions,
        calls: CallDesk,
        ticket_seconds: float = 30.0,
    ) -> None:
        self._calls = calls
        self._acd = acd
        self._tickets: dict[str, tuple[str, float]] = {}  # ticket -> (session token, expires at)
        self._ticket_seconds = ticket_seconds
        self._store = store
        self._desk = desk
        self._board = board
        self._sessions = sessions
        self._clients: set[Client] = set()
        self._dirty = asyncio.Event()
        self._pop_check: asyncio.Task[None] | None = None
        self._pop_again = False
        self._ticker: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def attach(self) -> None:
        listen = getattr(self._acd.events, "listen", None)
        if listen is not None:
            listen(self._on_event)
        self._store.outbox_listeners.append(self._check_pops_soon)
        if self._calls.controls is not None:
            self._calls.controls.listeners.append(self._call_changed)

    async def start(self) -> None:
        self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="console-board")

    async def stop(self) -> None:
        for client in list(self._clients):
            client.send(None)
        for task in (self._ticker, self._pop_check):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # --- events ------------------------------------------------------------------------------
    def _on_event(self, event: QueueEvent | SeatEvent) -> None:
        self._board.add(event)
        self._dirty.set()
        if isinstance(event, SeatEvent):
            clients = self._seat_clients(event.seat_id)
            if clients:
                view = self._desk.seat_view(event.seat_id)
                for c in clients:
                    c.send({"type": "seat", "seat": view})
                self._call_changed(event.seat_id)
                if event.state in ON_CALL:
                    self._check_pops_soon()

    def _call_changed(self, seat_id: str) -> None:
        controls = self._calls.controls
        clients = self._seat_clients(seat_id)
        if controls is not None and clients:
            view = controls.view(seat_id)
            for c in clients:
                c.send({"type": "call", "call": view})

    def _seat_clients(self, seat_id: str) -> list[Client]:
        return [c for c in self._clients if c.session.seat_id == seat_id]

    def _check_pops_soon(self) -> None:
        """The outbox changed (a pop may have been committed): one check runs at a time and
        runs again if more changes came while it read."""
        self._pop_again = True
        if self._pop_check is None or self._pop_check.done():
            loop = asyncio.get_running_loop()
            self._pop_check = loop.create_task(self._check_pops(), name="console-pops")

    async def _check_pops(self) -> None:
        for _ in range(1000):  # one turn per burst of changes
            if not self._pop_again:
                return
            self._pop_again = False
            for client in [c for c in self._clients if c.session.seat_id]:
                await self._push_pop(client)

    async def _push_pop(self, client: Client) -> None:
        seat = self._acd.seats.get(client.session.seat_id)
        if seat is None or seat.state not in ON_CALL:
            return
        try:
            offer = await self._desk.current_offer(seat.id)
        except Exception:
            log.exception("console: reading the pop of seat %s failed", seat.id)
            return
        if offer is not None and offer.get("id") != client.last_pop:
            client.last_pop = str(offer.get("id"))
            client.send({"type": "offer", "offer": offer})

    async def _tick(self) -> None:
        while True:  # ends by cancellation (stop)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), BOARD_EVERY)
                await asyncio.sleep(BOARD_SOON)  # let a burst of events settle into one push
            self._dirty.clear()
            watchers = [c for c in self._clients if c.session.role == SUPERVISOR]
            if watchers:
                snapshot = self._board.snapshot()
                for c in watchers:
                    c.send({"type": "board", "board": snapshot})

    # --- the socket --------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        return [Route("/api/live/ticket", endpoint(self.ticket), methods=["POST"])]

    async def ticket(self, request: Request) -> Response:
        """A one-use ticket for one socket, for the session in the Authorization header."""
        session = await self._sessions.get(token_of(request))
        now = self._store_now()
        for old in [t for t, (_, until) in self._tickets.items() if until < now]:
            del self._tickets[old]
        if len(self._tickets) >= TICKETS_MAX:
            raise ApiError(503, "实时连接请求过多，请稍后重试")
        ticket = secrets.token_urlsafe(24)
        self._tickets[ticket] = (session.token, now + self._ticket_seconds)
        return JSONResponse({"ticket": ticket, "expires_in": self._ticket_seconds})

    def _store_now(self) -> float:
        return self._sessions.now()

    async def _redeem(self, ws: WebSocket) -> Session:
        if "token" in ws.query_params:
            raise ApiError(400, "令牌不能放在网址中，请先申请实时连接票据")
        token, until = self._tickets.pop(ws.query_params.get("ticket", ""), ("", 0.0))
        if not token or until < self._store_now():
            raise ApiError(401, "实时连接票据无效或已过期，请重新连接")
        return await self._sessions.get(token)

    async def websocket(self, ws: WebSocket) -> None:
        await ws.accept()
        try:
            session = await self._redeem(ws)
            if session.seat_id and session.live > 0:
                raise ApiError(409, "该座席已在另一个窗口打开，请关闭其他窗口或重新登录接管")
        except ApiError as exc:
            await ws.send_json({"type": "error", "status": exc.status, "error": exc.message})
            await ws.close(code=4000 + exc.status, reason=str(exc.status))
            return
        client = Client(session)
        session.live += 1

        def revoked(why: str) -> None:
            client.send({"type": "revoked", "error": why})
            client.send(None)

        session.on_revoke.append(revoked)
        self._clients.add(client)
        try:
            await self._greet(client)
            await self._serve(ws, client)
        finally:
            self._clients.discard(client)
            session.live -= 1
            with contextlib.suppress(ValueError):
                session.on_revoke.remove(revoked)

    async def _greet(self, client: Client) -> None:
        seat_id = client.session.seat_id
        if seat_id:
            client.send({"type": "seat", "seat": self._desk.seat_view(seat_id)})
            offer = await self._desk.current_offer(seat_id)
            client.last_pop = str(offer.get("id")) if offer else ""
            client.send({"type": "offer", "offer": offer})
            if self._calls.controls is not None:
                client.send({"type": "call", "call": self._calls.controls.view(seat_id)})
        else:
            client.send({"type": "board", "board": self._board.snapshot()})

    def _spawn_control(self, client: Client, text: str) -> None:
        task = asyncio.get_running_loop().create_task(self._control(client, text))
        client.tasks.add(task)
        task.add_done_callback(client.tasks.discard)

    async def _control(self, client: Client, text: str) -> None:
        """A call control sent over the socket: answered on it with the same id."""
        request: Any = None
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("type") != "control":
                raise ApiError(400, "消息应为 {type: control, action: ...}")
            request = data.get("id")
            seat_id = client.session.seat_id
            if not seat_id:
                raise ApiError(403, "只有座席可以操作通话")
            view = await self._calls.act(client.session, seat_id, data)
            client.send({"type": "control", "id": request, "ok": True, "call": view})
        except ApiError as exc:
            client.send(
                {"type": "control", "id": request, "ok": False, "status": exc.status, "error": exc.message}
            )
        except ValueError:
            client.send(
                {"type": "control", "id": None, "ok": False, "status": 400, "error": "消息不是合法的 JSON"}
            )
        except Exception:
            log.exception("console: call control failed")
            client.send(
                {"type": "control", "id": request, "ok": False, "status": 500, "error": "服务器内部错误"}
            )

    async def _serve(self, ws: WebSocket, client: Client) -> None:
        async def receive() -> None:
            with contextlib.suppress(WebSocketDisconnect):
                while True:  # pings and call controls from the page; ends when it goes away
                    text = await ws.receive_text()
                    try:  # still signed in (any node's sign-out, idle, lifetime)? and in use
                        await self._sessions.get(client.session.token)
                    except ApiError as exc:
                        client.send({"type": "revoked", "error": exc.message})
                        client.send(None)
                        continue
                    if text.startswith("{"):
                        self._spawn_control(client, text)

        reader = asyncio.get_running_loop().create_task(receive())
        try:
            while not reader.done():
                getter = asyncio.ensure_future(client.outbox.get())
                # the reader lives as long as the socket: shielded, so losing the race keeps it
                if await first(getter, asyncio.shield(reader)) is not getter:
                    break
                message = getter.result()
                if message is None or client.dropped:
                    with contextlib.suppress(Exception):
                        await ws.close(code=4000 if message is None else 4013)
                    break
                await ws.send_json(message)
        except (WebSocketDisconnect, RuntimeError):
            pass  # the page went away mid-send
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
