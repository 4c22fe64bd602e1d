"""The centre's side of tickets after filing: search (an operator's own tickets, a supervisor's
all), a ticket with its whole history, and the dispatch desk's answers to a unit's return
(退单): dispatch again to another unit, or close.

Rights: a seat finds only tickets it is the operator of, whatever it asks for; a supervisor finds
any, and is the dispatch desk. Unit staff use `/api/units/...` (agents.web.units) instead."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Sequence
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agents.tickets.lifecycle import LifeError, TicketLife
from agents.web.api import ApiError, endpoint, read_json, text_field, token_of
from agents.web.reports import ReportError, date_range
from agents.web.sessions import SUPERVISOR, Session, Sessions
from ivr.privacy import mask
from ivr.records import STATUSES, Ticket, TicketChange, TicketQuery

MAX_RESULTS = 200


def ticket_view(t: Ticket, now: float, *, masked: bool = False) -> dict[str, Any]:
    """A ticket as the API shows it, with the time left to its deadline (negative: overdue).
    `masked` hides the citizen's number (for units, which reach citizens through the centre)."""
    view = t.as_dict()
    if masked:
        view["caller"] = mask(t.caller)
    view["seconds_left"] = round(t.due_at - now) if t.due_at else None
    view["overdue"] = bool(t.due_at) and t.due_at < now and t.status in ("dispatched", "accepted", "reopened")
    return view


def history_view(changes: Sequence[TicketChange]) -> list[dict[str, Any]]:
    return [
        {
            "at": c.at,
            "actor": c.actor,
            "event": c.event,
            "note": c.note,
            "changes": {k: list(v) for k, v in c.changes.items()},
        }
        for c in changes
    ]


def query_of(request: Request, **forced: str) -> TicketQuery:
    """A TicketQuery from `number, caller, category, status, unit, operator, from, to, limit`;
    `forced` values override what the request asks (a seat's own tickets, a unit's own)."""
    p = request.query_params
    values = {k: p.get(k, "")[:100] for k in ("number", "caller", "category", "status", "unit", "operator")}
    values.update(forced)
    if values["status"] and values["status"] not in STATUSES:
        raise ApiError(400, f"status 应为 {', '.join(STATUSES)} 之一")
    since = until = 0.0
    if p.get("from") or p.get("to"):
        start = p.get("from") or p.get("to", "")
        try:
            since, until = date_range(start, p.get("to") or date.fromtimestamp(time.time()).isoformat())
        except ReportError as exc:
            raise ApiError(400, str(exc)) from exc
    try:
        limit = min(int(p.get("limit", "50")), MAX_RESULTS)
    except ValueError as exc:
        raise ApiError(400, "limit 应为整数") from exc
    v = values
    return TicketQuery(
        number=v["number"], caller=v["caller"], operator=v["operator"], unit=v["unit"],
        category=v["category"], status=v["status"], since=since, until=until, limit=limit,
    )  # fmt: skip


class DispatchDesk:
    def __init__(self, sessions: Sessions, life: TicketLife) -> None:
        self._sessions = sessions
        self._life = life

    def routes(self) -> list[Route]:
        return [
            Route("/api/tickets", endpoint(self.search)),
            Route("/api/tickets/{ticket_id}/dispatch", endpoint(self.dispatch), methods=["POST"]),
            Route("/api/tickets/{ticket_id}/close", endpoint(self.close), methods=["POST"]),
        ]

    async def _session(self, request: Request) -> Session:
        session = await self._sessions.get(token_of(request))
        if session.role not in ("seat", SUPERVISOR):
            raise ApiError(403, "单位请使用单位页面")
        return session

    async def search(self, request: Request) -> Response:
        """Seats: own tickets only (operator forced); supervisors: all."""
        session = await self._session(request)
        forced = {"operator": session.seat_id} if session.role != SUPERVISOR else {}
        found = await self._life.store.tickets.search(query_of(request, **forced))
        now = self._life.now()
        return JSONResponse({"tickets": [ticket_view(t, now) for t in found], "now": now})

    async def dispatch(self, request: Request) -> Response:
        """The dispatch desk sends a returned ticket to a unit again (supervisors only)."""
        session = await self._session(request)
        self._sessions.require_supervisor(session)
        data = await read_json(request)
        unit = text_field(data, "unit", limit=100)
        note = text_field(data, "note", required=False, limit=2000)
        ticket = await self._life.store.tickets.get(request.path_params["ticket_id"])
        if ticket is not None and ticket.status != "returned":
            raise ApiError(409, "只有被退回的工单可以重新派单")
        return await self._step(
            self._life.dispatch(request.path_params["ticket_id"], unit, actor="supervisor", note=note)
        )

    async def close(self, request: Request) -> Response:
        """The dispatch desk closes a returned ticket (no unit is responsible), with a reason."""
        session = await self._session(request)
        self._sessions.require_supervisor(session)
        data = await read_json(request)
        note = text_field(data, "note", limit=2000)
        ticket = await self._life.store.tickets.get(request.path_params["ticket_id"])
        if ticket is not None and ticket.status != "returned":
            raise ApiError(409, "只有被退回的工单可以由派单台结案")
        return await self._step(
            self._life.close(request.path_params["ticket_id"], actor="supervisor", note=note)
        )

    async def _step(self, step: Awaitable[Ticket]) -> Response:
        try:
            ticket = await step
        except LifeError as exc:
            raise ApiError(exc.status, exc.message) from exc
        return JSONResponse(ticket_view(ticket, self._life.now()))
