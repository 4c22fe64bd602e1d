"""Hot spots on the supervisor's desk: the clusters of calls about one problem at one place
(ivr.understanding.hotspots) and dispatching all of a cluster's tickets to one unit at once.

A dispatch is all or nothing: every open ticket of the cluster must pass the operator's dispatch
rules (category1, description and unit) before any is changed; each then records the change in
its own history, with the supervisor and the cluster as the actor.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agents.console import FIELD_LIMITS, Console
from agents.tickets.lifecycle import LifeError
from agents.web.api import ApiError, endpoint, read_json, text_field, token_of
from agents.web.desk import check_fields
from agents.web.sessions import Sessions
from ivr.records import Ticket
from ivr.store import Store
from ivr.understanding import HotSpots

log = logging.getLogger(__name__)

SETTLED = ("closed",)  # tickets a cluster dispatch leaves alone


class HotSpotDesk:
    def __init__(
        self,
        sessions: Sessions,
        store: Store,
        console: Console,
        hotspots: HotSpots | None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self._store = store
        self._console = console
        self._hotspots = hotspots
        self._now = now

    def routes(self) -> list[Route]:
        return [
            Route("/api/hotspots", endpoint(self.list)),
            Route("/api/hotspots/dispatch", endpoint(self.dispatch), methods=["POST"]),
        ]

    async def _check(self, request: Request) -> None:
        self._sessions.require_supervisor(await self._sessions.get(token_of(request)))

    async def list(self, request: Request) -> Response:
        await self._check(request)
        spots = self._hotspots.current(self._now()) if self._hotspots is not None else []
        return JSONResponse({"hot_spots": [s.as_dict() for s in spots]})

    async def dispatch(self, request: Request) -> Response:
        """Body {"id": "<place>|<category>", "unit": "..."}: every ticket of the cluster that is
        not closed goes to `unit`. 404: no such hot spot (any more); 422: a ticket misses a field
        dispatch needs (nothing changed); 409: a ticket changed meanwhile and was refused."""
        await self._check(request)
        data = await read_json(request)
        spot_id = text_field(data, "id", limit=400)
        unit = text_field(data, "unit", limit=FIELD_LIMITS["unit"]).strip()
        if not unit:
            raise ApiError(400, "缺少字段 unit")
        spot = self._hotspots.get(spot_id, self._now()) if self._hotspots is not None else None
        if spot is None:
            raise ApiError(404, "没有该热点（可能已超出时间窗口）")
        tickets: list[Ticket] = []
        for ticket_id in spot.tickets:
            ticket = await self._store.tickets.get(ticket_id)
            if ticket is not None and ticket.status not in SETTLED:
                tickets.append(ticket)
        if not tickets:
            raise ApiError(409, "该热点没有可派发的工单")
        fields = {"status": "dispatched", "unit": unit}
        for ticket in tickets:  # all checked before any is written
            try:
                check_fields(fields, ticket)
            except ApiError as exc:
                raise ApiError(exc.status, f"工单 {ticket.id}：{exc.message}") from exc
        actor = f"supervisor:hotspot {spot.place}"
        done: list[str] = []
        for ticket in tickets:
            try:
                await self._console.edit(ticket, dict(fields), actor)
            except LifeError as exc:
                already = "、".join(done) or "无"
                raise ApiError(
                    exc.status, f"工单 {ticket.id} 派单被拒绝：{exc.message}；已派：{already}"
                ) from exc
            done.append(ticket.id)
        log.info("hot spot %s: %d tickets dispatched to %s", spot.category, len(done), unit)
        return JSONResponse({"id": spot.id, "unit": unit, "dispatched": done})
