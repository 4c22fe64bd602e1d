"""The operator's call controls over HTTP (`/api/seats/{id}/call`) and the live socket: both
land in `SeatControls.act`. Only the seat's own session may act on its call; a supervisor may
look. A control that does not fit the call answers its status (409, 501 ...) with the reason."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agents.controls import SeatControls
from agents.web.api import ApiError, endpoint, read_json, text_field, token_of
from agents.web.sessions import Session, Sessions
from ivr.control import ControlError


class CallDesk:
    def __init__(self, sessions: Sessions, controls: SeatControls | None) -> None:
        self.sessions = sessions
        self.controls = controls

    def routes(self) -> list[Route]:
        one = "/api/seats/{seat_id}/call"
        return [
            Route(one, endpoint(self.get_call)),
            Route(one, endpoint(self.post_call), methods=["POST"]),
            Route("/api/seats/{seat_id}/transfer-targets", endpoint(self.get_targets)),
        ]

    def _controls(self) -> SeatControls:
        if self.controls is None:
            raise ApiError(503, "本线路未启用通话控制")
        return self.controls

    async def _session(self, request: Request) -> tuple[Session, str]:
        session = await self.sessions.get(token_of(request))
        seat_id = request.path_params["seat_id"]
        self.sessions.require_seat(session, seat_id)
        return session, seat_id

    async def get_call(self, request: Request) -> Response:
        _, seat_id = await self._session(request)
        return JSONResponse(self._controls().view(seat_id))

    async def get_targets(self, request: Request) -> Response:
        _, seat_id = await self._session(request)
        return JSONResponse(self._controls().targets(seat_id))

    async def post_call(self, request: Request) -> Response:
        session, seat_id = await self._session(request)
        data = await read_json(request)
        return JSONResponse(await self.act(session, seat_id, data))

    async def act(self, session: Session, seat_id: str, data: dict[str, Any]) -> dict[str, Any]:
        """One control from the seat's own console (HTTP or the live socket)."""
        if session.seat_id != seat_id:
            raise ApiError(403, "只有本座席可以操作自己的通话")
        action = text_field(data, "action", limit=20)
        for name in ("to", "mode", "number", "ticket_id"):
            text_field(data, name, required=False, limit=60)
        try:
            return await self._controls().act(seat_id, action, data)
        except ControlError as exc:
            raise ApiError(exc.status, exc.message) from exc
