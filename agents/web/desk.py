"""The operator's desk over HTTP: seat state, the current offer (screen pop), tickets, the
category taxonomy and the knowledge base. Every call checks the session's seat against the
resource: a seat sees its own state, its own offer and the tickets it is the operator of."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agents.acd import SeatAction
from agents.console import FIELD_LIMITS, Console
from agents.seat import REASONS, SeatError
from agents.shared import AnyAcd
from agents.tickets.lifecycle import LifeError, TicketLife, operator_move
from agents.web.api import ApiError, client_address, endpoint, read_json, text_field, token_of
from agents.web.dispatch import history_view
from agents.web.knowledge import KnowledgeBase
from agents.web.sessions import ADMIN, SUPERVISOR, UNIT, Session, Sessions
from agents.web.taxonomy import Taxonomy
from ivr.bus import Topics
from ivr.records import URGENCIES, SeatState, Ticket
from ivr.store import Store

ACTIONS = ("login", "logout", "ready", "not_ready", "end_wrapup")
ON_CALL = (SeatState.RINGING, SeatState.TALKING, SeatState.WRAP_UP)


def check_fields(fields: Any, current: Ticket) -> dict[str, str]:
    """The changes an operator sends, checked before anything is written."""
    if not isinstance(fields, dict):
        raise ApiError(400, "fields 应为 JSON 对象")
    unknown = sorted(set(fields) - set(FIELD_LIMITS))
    if unknown:
        raise ApiError(400, f"不可修改的字段：{', '.join(unknown)}")
    for name, value in fields.items():
        if not isinstance(value, str):
            raise ApiError(400, f"字段 {name} 应为字符串")
        if len(value) > FIELD_LIMITS[name]:
            raise ApiError(413, f"字段 {name} 超过 {FIELD_LIMITS[name]} 字")
    if "urgency" in fields and fields["urgency"] not in URGENCIES:
        raise ApiError(400, f"urgency 应为 {', '.join(URGENCIES)} 之一")
    try:
        operator_move(current, fields)
    except LifeError as exc:
        raise ApiError(exc.status, exc.message) from exc
    return cast(dict[str, str], fields)


class Desk:
    def __init__(
        self,
        acd: AnyAcd,
        store: Store,
        topics: Topics,
        console: Console,
        sessions: Sessions,
        taxonomy: Taxonomy,
        knowledge: KnowledgeBase,
        queue_of: Callable[[str], str],
        life: TicketLife,
    ) -> None:
        self.life = life
        self.acd = acd
        self.store = store
        self.topics = topics
        self.console = console
        self.sessions = sessions
        self.taxonomy = taxonomy
        self.knowledge = knowledge
        self._queue_of = queue_of  # call id -> its queue (for the queue's wrap-up time)

    # --- views -----------------------------------------------------------------------------
    def seat_view(self, seat_id: str) -> dict[str, Any]:
        seat = self.acd.seats[seat_id]
        wrapup_ends = None
        if seat.state is SeatState.WRAP_UP:
            seconds = seat.settings.wrapup_seconds
            if seconds is None:
                queue = self.acd.queues.get(self._queue_of(seat.call_id))
                seconds = queue.wrapup_seconds if queue is not None else 0.0
            wrapup_ends = seat.since + seconds
        return {
            "seat_id": seat.id,
            "name": seat.settings.name,
            "state": seat.state.value,
            "reason": seat.reason,
            "since": seat.since,
            "now": self.acd.clock.now(),
            "call_id": seat.call_id,
            "pending": seat.pending.state.value if seat.pending is not None else "",
            "wrapup_ends": wrapup_ends,
        }

    async def current_offer(self, seat_id: str) -> dict[str, Any] | None:
        """The screen pop of the call the seat is ringing for, talking on or wrapping up, with
        the ticket as it is now. Read from the outbox row the ACD committed with the draft, so a
        page that (re)connects at any moment gets the same pop MQTT clients got."""
        seat = self.acd.seats[seat_id]
        if seat.state not in ON_CALL or not seat.call_id:
            return None
        latest = await self.store.outbox_latest(self.topics.seat_pop(seat_id))
        if latest is None:
            return None
        pop: dict[str, Any] = json.loads(latest.payload)
        if pop.get("call", {}).get("call_id") != seat.call_id:
            return None  # the ACD has not written this call's pop yet: the push brings it
        ticket = await self.store.tickets.get(str(pop["ticket"]["id"]))
        if ticket is None or ticket.operator != seat_id:
            return None
        pop["ticket"] = ticket.as_dict()
        return pop

    async def _ticket_for(self, session: Session, ticket_id: str) -> Ticket:
        ticket = await self.store.tickets.get(ticket_id)
        if ticket is None:
            raise ApiError(404, f"没有工单 {ticket_id}")
        if session.role == UNIT or (session.role != SUPERVISOR and ticket.operator != session.seat_id):
            raise ApiError(403, "无权访问其他座席的工单")
        return ticket

    # --- endpoints -------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        return [
            Route("/api/login", endpoint(self.login), methods=["POST"]),
            Route("/api/logout", endpoint(self.logout), methods=["POST"]),
            Route("/api/me", endpoint(self.me)),
            Route("/api/seats/{seat_id}", endpoint(self.get_seat)),
            Route("/api/seats/{seat_id}/state", endpoint(self.set_state), methods=["POST"]),
            Route("/api/seats/{seat_id}/offer", endpoint(self.offer)),
            Route("/api/tickets/{ticket_id}", endpoint(self.get_ticket)),
            Route("/api/tickets/{ticket_id}", endpoint(self.patch_ticket), methods=["PATCH"]),
            Route("/api/tickets/{ticket_id}/history", endpoint(self.ticket_history)),
            Route("/api/taxonomy", endpoint(self.get_taxonomy)),
            Route("/api/taxonomy/search", endpoint(self.search_taxonomy)),
            Route("/api/units/suggest", endpoint(self.suggest_unit)),
            Route("/api/knowledge", endpoint(self.search_knowledge)),
        ]

    async def _session(self, request: Request) -> Session:
        return await self.sessions.get(token_of(request))

    async def login(self, request: Request) -> Response:
        data = await read_json(request)
        password = text_field(data, "password", limit=200)
        address = client_address(request)
        if data.get("role") == SUPERVISOR:
            # older pages sent no login: the account "supervisor" of `[web] supervisor_password`
            login = text_field(data, "login", required=False, limit=50) or "supervisor"
            session, name = await self.sessions.login_supervisor(login, password, address)
        elif data.get("role") == ADMIN:
            session = await self.sessions.login_admin(password, address)
            return JSONResponse({"token": session.token, **session.as_dict(), "name": "管理员"})
        elif data.get("role") == UNIT:
            login = text_field(data, "login", limit=50)
            session, name = await self.sessions.login_unit(login, password, address)
            return JSONResponse({"token": session.token, **session.as_dict(), "name": name})
        else:
            seat_id = text_field(data, "seat_id", limit=50)
            takeover = data.get("takeover") is True
            session = await self.sessions.login_seat(seat_id, password, takeover=takeover, address=address)
            name = self.sessions.seat_name(session.seat_id)
        body: dict[str, Any] = {"token": session.token, **session.as_dict(), "name": name}
        if session.role != SUPERVISOR:
            body["mqtt"], session.mqtt = session.mqtt, None  # the password is told once, not kept
        return JSONResponse(body)

    async def logout(self, request: Request) -> Response:
        session = await self._session(request)
        await self.sessions.revoke(session.token)
        self.sessions.audit.record(session.actor, "signout", address=client_address(request))
        return JSONResponse({"ok": True})

    async def me(self, request: Request) -> Response:
        session = await self._session(request)
        body: dict[str, Any] = session.as_dict()
        if session.seat_id:
            body["seat"] = self.seat_view(session.seat_id)
            body["leads"] = self.sessions.led_teams(session)  # a team leader's teams (班组)
            body["reasons"] = [r for r in REASONS if r != "no_answer"]
        return JSONResponse(body)

    async def get_seat(self, request: Request) -> Response:
        seat_id = request.path_params["seat_id"]
        self.sessions.require_seat(await self._session(request), seat_id)
        return JSONResponse(self.seat_view(seat_id))

    async def set_state(self, request: Request) -> Response:
        seat_id = request.path_params["seat_id"]
        session = await self._session(request)
        self.sessions.require_seat(session, seat_id)
        if session.seat_id != seat_id:
            raise ApiError(403, "只有本座席可以改变自己的状态")
        data = await read_json(request)
        action = text_field(data, "action", limit=20)
        reason = text_field(data, "reason", required=False, limit=50)
        if action not in ACTIONS:
            raise ApiError(400, f"未知操作 {action!r}；可用：{', '.join(ACTIONS)}")
        try:
            done = self.acd.seat_command(seat_id, cast(SeatAction, action), reason)
            if inspect.isawaitable(done):  # the shared queue's seats are rows
                await done
        except SeatError as exc:
            raise ApiError(409, str(exc)) from exc
        return JSONResponse(self.seat_view(seat_id))

    async def offer(self, request: Request) -> Response:
        seat_id = request.path_params["seat_id"]
        self.sessions.require_seat(await self._session(request), seat_id)
        return JSONResponse({"offer": await self.current_offer(seat_id)})

    async def get_ticket(self, request: Request) -> Response:
        ticket = await self._ticket_for(await self._session(request), request.path_params["ticket_id"])
        return JSONResponse(ticket.as_dict())

    async def patch_ticket(self, request: Request) -> Response:
        session = await self._session(request)
        if session.role == SUPERVISOR:
            raise ApiError(403, "班长只能查看工单")
        ticket = await self._ticket_for(session, request.path_params["ticket_id"])
        data = await read_json(request)
        fields = dict(check_fields(data.get("fields"), ticket))
        try:
            updated = await self.console.edit(ticket, fields, f"seat:{session.seat_id}")
        except LifeError as exc:
            raise ApiError(exc.status, exc.message) from exc
        return JSONResponse(updated.as_dict())

    async def ticket_history(self, request: Request) -> Response:
        ticket = await self._ticket_for(await self._session(request), request.path_params["ticket_id"])
        return JSONResponse(history_view(await self.store.tickets.history(ticket.id)))

    async def get_taxonomy(self, request: Request) -> Response:
        await self._session(request)
        return JSONResponse({"tree": self.taxonomy.tree(), "count": len(self.taxonomy.items)})

    async def search_taxonomy(self, request: Request) -> Response:
        await self._session(request)
        q = request.query_params.get("q", "")[:50]
        return JSONResponse([c.as_dict() for c in self.taxonomy.search(q)])

    async def suggest_unit(self, request: Request) -> Response:
        await self._session(request)
        p = request.query_params
        unit = self.taxonomy.suggest_unit(
            p.get("category1", ""), p.get("category2", ""), p.get("category3", ""), p.get("address", "")[:300]
        )
        return JSONResponse({"unit": unit})

    async def search_knowledge(self, request: Request) -> Response:
        await self._session(request)
        q = request.query_params.get("q", "")[:100]
        return JSONResponse([a.as_dict() for a in self.knowledge.search(q)])
