"""The unit's side over HTTP (`/api/units/{unit_id}/...`): its inbox of dispatched tickets with
deadlines and time left, a ticket with its history, accept, return with a reason (退单),
progress notes, and the reply that ends the handling (办结反馈).

Unit staff sign in with `POST /api/login {"role": "unit", "login", "password"}` and act for
their own unit only; supervisors may read any unit's inbox but not act for it. The citizen's
number is masked in everything a unit reads."""

from __future__ import annotations

from collections.abc import Awaitable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agents.tickets.lifecycle import LifeError, TicketLife
from agents.web.api import ApiError, endpoint, read_json, text_field, token_of
from agents.web.dispatch import history_view, query_of, ticket_view
from agents.web.sessions import UNIT, Session, Sessions
from ivr.records import Ticket, Unit


class UnitDesk:
    def __init__(self, sessions: Sessions, life: TicketLife) -> None:
        self._sessions = sessions
        self._life = life

    def routes(self) -> list[Route]:
        base = "/api/units/{unit_id}"
        one = base + "/tickets/{ticket_id}"
        return [
            Route(base, endpoint(self.get_unit)),
            Route(base + "/inbox", endpoint(self.inbox)),
            Route(base + "/tickets", endpoint(self.tickets)),
            Route(one, endpoint(self.ticket)),
            Route(one + "/accept", endpoint(self.accept), methods=["POST"]),
            Route(one + "/return", endpoint(self.give_back), methods=["POST"]),
            Route(one + "/notes", endpoint(self.note), methods=["POST"]),
            Route(one + "/reply", endpoint(self.reply), methods=["POST"]),
        ]

    async def _unit(self, request: Request, *, acting: bool = False) -> tuple[Session, Unit]:
        session = await self._sessions.get(token_of(request))
        unit_id = request.path_params["unit_id"]
        self._sessions.require_unit(session, unit_id)
        if acting and session.role != UNIT:
            raise ApiError(403, "只有承办单位可以办理工单")
        unit = await self._life.store.units.unit(unit_id)
        if unit is None:
            raise ApiError(404, f"没有单位 {unit_id}")
        return session, unit

    async def get_unit(self, request: Request) -> Response:
        _, unit = await self._unit(request)
        return JSONResponse({"id": unit.id, "name": unit.name, "kind": unit.kind, "district": unit.district})

    async def inbox(self, request: Request) -> Response:
        """Tickets to handle, the earliest deadline first."""
        _, unit = await self._unit(request)
        now = self._life.now()
        found = await self._life.inbox(unit)
        return JSONResponse({"tickets": [ticket_view(t, now, masked=True) for t in found], "now": now})

    async def tickets(self, request: Request) -> Response:
        """Every ticket ever dispatched to the unit that matches the query (replied, closed...)."""
        _, unit = await self._unit(request)
        found = await self._life.store.tickets.search(query_of(request, unit=unit.name, operator=""))
        now = self._life.now()
        return JSONResponse({"tickets": [ticket_view(t, now, masked=True) for t in found], "now": now})

    async def ticket(self, request: Request) -> Response:
        _, unit = await self._unit(request)
        t = await self._life.store.tickets.get(request.path_params["ticket_id"])
        if t is None or t.unit != unit.name:
            raise ApiError(404, f"本单位没有工单 {request.path_params['ticket_id']}")
        history = await self._life.store.tickets.history(t.id)
        return JSONResponse(
            {**ticket_view(t, self._life.now(), masked=True), "history": history_view(history)}
        )

    async def accept(self, request: Request) -> Response:
        session, unit = await self._unit(request, acting=True)
        return await self._step(
            self._life.accept(unit, request.path_params["ticket_id"], actor=_actor(session))
        )

    async def give_back(self, request: Request) -> Response:
        session, unit = await self._unit(request, acting=True)
        reason = text_field(await read_json(request), "reason", limit=2000)
        tid = request.path_params["ticket_id"]
        return await self._step(self._life.give_back(unit, tid, reason, actor=_actor(session)))

    async def note(self, request: Request) -> Response:
        session, unit = await self._unit(request, acting=True)
        text = text_field(await read_json(request), "text", limit=2000)
        tid = request.path_params["ticket_id"]
        return await self._step(self._life.note(unit, tid, text, actor=_actor(session)))

    async def reply(self, request: Request) -> Response:
        session, unit = await self._unit(request, acting=True)
        data = await read_json(request)
        done = text_field(data, "done", limit=2000)
        result = text_field(data, "result", limit=20)
        tid = request.path_params["ticket_id"]
        return await self._step(self._life.reply(unit, tid, done, result, actor=_actor(session)))

    async def _step(self, step: Awaitable[Ticket]) -> Response:
        try:
            ticket = await step
        except LifeError as exc:
            raise ApiError(exc.status, exc.message) from exc
        return JSONResponse(ticket_view(ticket, self._life.now(), masked=True))


def _actor(session: Session) -> str:
    return f"unit:{session.unit_id}"
