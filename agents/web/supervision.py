"""The supervisor's endpoints: live board, today's charts, date-range reports (JSON or CSV), and
督办: tickets at units due soon or overdue, with the calendar's coverage warning."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agents.tickets.figures import COLUMNS as FIGURE_COLUMNS
from agents.web.api import ApiError, endpoint, token_of
from agents.web.board import LiveBoard
from agents.web.reports import OPERATOR_COLUMNS, QUEUE_COLUMNS, TEAM_COLUMNS, ReportError, Reports, to_csv
from agents.web.sessions import SUPERVISOR, Sessions


class Supervision:
    def __init__(
        self,
        sessions: Sessions,
        board: LiveBoard,
        reports: Reports,
        oversight: Callable[[], dict[str, Any]] = dict,
    ) -> None:
        self._sessions = sessions
        self._board = board
        self._reports = reports
        self._oversight = oversight  # the deadline watch's latest look and calendar warnings

    def routes(self) -> list[Route]:
        return [
            Route("/api/board", endpoint(self.board)),
            Route("/api/charts", endpoint(self.charts)),
            Route("/api/oversight", endpoint(self.oversight)),
            Route("/api/reports/queues", endpoint(self.queue_report)),
            Route("/api/reports/operators", endpoint(self.operator_report)),
            Route("/api/reports/units", endpoint(self.unit_report)),
            Route("/api/reports/teams", endpoint(self.team_report)),
        ]

    async def _check(self, request: Request) -> None:
        self._sessions.require_supervisor(await self._sessions.get(token_of(request)))

    async def board(self, request: Request) -> Response:
        """The supervisor's whole board (`?team=` filters); a team leader's, their team's."""
        session = await self._sessions.get(token_of(request))
        team = request.query_params.get("team", "")
        if session.role != SUPERVISOR:
            led = self._sessions.led_teams(session)
            if not led:
                raise ApiError(403, "仅班长可以访问")
            team = team if team in led else led[0]
        return JSONResponse(self._board.snapshot(team))

    async def charts(self, request: Request) -> Response:
        await self._check(request)
        return JSONResponse(self._board.charts())

    async def oversight(self, request: Request) -> Response:
        await self._check(request)
        return JSONResponse(self._oversight())

    async def queue_report(self, request: Request) -> Response:
        return await self._report(request, "queues")

    async def operator_report(self, request: Request) -> Response:
        return await self._report(request, "operators")

    async def team_report(self, request: Request) -> Response:
        """Per team (班组): seats, calls, talk, wrap-up, AHT, not ready, logged in, satisfaction."""
        return await self._report(request, "teams")

    async def unit_report(self, request: Request) -> Response:
        """Per unit (or `group=category|district`): received, on time, returned, reopened,
        resolved, satisfied."""
        return await self._report(request, "units")

    async def _report(self, request: Request, kind: str) -> Response:
        await self._check(request)
        today = date.fromtimestamp(time.time()).isoformat()
        start = request.query_params.get("from", today)
        end = request.query_params.get("to", start)
        fmt = request.query_params.get("format", "json")
        if fmt not in ("json", "csv"):
            raise ApiError(400, "format 应为 json 或 csv")
        try:
            columns: tuple[str, ...]
            if kind == "queues":
                rows, columns = await self._reports.queues(start, end), QUEUE_COLUMNS
            elif kind == "units":
                group = request.query_params.get("group", "unit")
                rows, columns = await self._reports.units(start, end, group), FIGURE_COLUMNS
            elif kind == "teams":
                rows, columns = await self._reports.teams(start, end), TEAM_COLUMNS
            else:
                team = request.query_params.get("team", "")
                rows, columns = await self._reports.operators(start, end, team), OPERATOR_COLUMNS
        except ReportError as exc:
            raise ApiError(400, str(exc)) from exc
        if fmt == "json":
            return JSONResponse({"from": start, "to": end, "rows": rows})
        name = f"{kind}-{start}-{end}.csv"
        return Response(
            to_csv(rows, columns),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )
