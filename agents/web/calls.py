"""The operator's call controls over HTTP (`/api/seats/{id}/call`) and the live socket: both
land in `SeatControls.act`. Only the seat's own session may act on its call; a supervisor may
look. A control that does not fit the call answers its status (409, 501 ...) with the reason."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agents.controls import ACTIONS, SeatControls
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


def call_paths(op: Any) -> dict[str, dict[str, Any]]:
    """The OpenAPI description of these routes (agents.web.openapi takes `op`, its builder)."""
    text = {"type": "string"}
    control = {
        "type": "object",
        "properties": {
            "action": {"enum": list(ACTIONS)},
            "to": {"type": "string", "description": 'transfer: "seat:<id>", "leader" or "skill:<name>"'},
            "mode": {"enum": ["blind", "consult"], "description": "transfer (default blind)"},
            "number": {"type": "string", "description": "conference, dial: 3-20 digits"},
            "ticket_id": {"type": "string", "description": "dial: note the call on this ticket"},
        },
        "required": ["action"],
    }
    view = {
        "type": "object",
        "properties": {
            "call_id": text,
            "held": {"type": "boolean"},
            "consulting": {"type": "boolean"},
            "consult_answered": {"type": "boolean"},
            "consult_to": text,
            "consulted_by": text,
            "conference": {"type": "boolean"},
            "conference_answered": {"type": "boolean"},
            "outbound": {"type": ["object", "null"]},
            "outcome": {"type": "string", "description": "queued, consulting, no_answer, answered, calling"},
        },
    }
    one = "/api/seats/{seat_id}/call"
    return {
        one: {
            "get": op(
                "The seat's call as its console shows it",
                ok=view,
                params=("seat_id",),
                errors=(401, 403, 404),
            ),
            "post": op(
                "A call control from the seat's own console: hold, resume, transfer (blind or consult),"
                " complete, back, conference, leave, drop_outside, dial (also over the live socket as"
                ' {"type": "control", "id": ..., ...})',
                body=control,
                ok=view,
                params=("seat_id",),
                errors=(400, 401, 403, 404, 409, 413, 501, 502, 503),
            ),
        },
        "/api/seats/{seat_id}/transfer-targets": {
            "get": op(
                "Seats (with their state), the team leader on duty and the skill groups to transfer to",
                params=("seat_id",),
                errors=(401, 403, 404),
            )
        },
    }
