"""A team leader on a live call, from the supervisor console and the REST API: listen in
silently, whisper to the operator, barge in, take the call over, leave.

Rights follow the teams: the supervisor on duty (值班长) may join any seat's call, a team leader
(signed in at their own seat) the calls of the seats in the teams they lead. The line rings the
leader's own seat phone: a team leader's is their seat's; a supervisor names the seat phone at
their desk (`phone`). The SIP side is ivr.sip.leader, reached through the `Leaders` seam; each
action lands in the event log (SUPERVISE) with who and when, a barge-in and a take-over also in
the ticket's history (agents.leaders).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agents.web.api import ApiError, endpoint, read_json, text_field, token_of
from agents.web.sessions import SUPERVISOR, Sessions

log = logging.getLogger(__name__)

MODES = ("listen", "whisper", "barge", "takeover", "leave")


class Leaders(Protocol):
    """ivr.sip.leader.LeaderLine as the console uses it; its errors carry an HTTP `status`."""

    async def join(self, seat_id: str, mode: Any, leader_seat: str, leader_uri: str, by: str) -> Any: ...

    async def take_over(self, seat_id: str, leader_seat: str, leader_uri: str, by: str) -> None: ...

    async def leave(self, seat_id: str, by: str) -> None: ...

    def presence_of(self, seat_id: str) -> Any: ...

    def supervised(self) -> dict[str, tuple[str, str]]: ...


class Listening:
    def __init__(self, sessions: Sessions, leaders: Leaders | None) -> None:
        self._sessions = sessions
        self._leaders = leaders

    def routes(self) -> list[Route]:
        return [Route("/api/seats/{seat_id}/supervise", endpoint(self.supervise), methods=["POST"])]

    def supervised(self) -> dict[str, tuple[str, str]]:
        """Operator seat -> (mode, leader seat) of every call a leader is on."""
        return self._leaders.supervised() if self._leaders is not None else {}

    async def supervise(self, request: Request) -> Response:
        session = await self._sessions.get(token_of(request))
        seat_id = request.path_params["seat_id"]
        if self._sessions.seat(seat_id) is None:
            raise ApiError(404, f"没有座席 {seat_id}")
        if not self._sessions.may_supervise(session, seat_id):
            raise ApiError(403, "只能监听本班组座席的通话（值班长可监听全部）")
        data = await read_json(request)
        mode = text_field(data, "mode", limit=20)
        if mode not in MODES:
            raise ApiError(400, f"mode 应为 {', '.join(MODES)} 之一")
        if self._leaders is None:
            raise ApiError(503, "本节点没有 SIP 线路，无法监听")
        by = session.seat_id or SUPERVISOR
        if session.role == SUPERVISOR:
            phone = text_field(data, "phone", required=mode != "leave", limit=50)
        else:
            phone = session.seat_id
        leader = self._sessions.seat(phone) if phone else None
        if mode != "leave" and leader is None:
            raise ApiError(400, f"没有座席 {phone}，无法呼叫班长话机")
        try:
            if mode == "leave":
                await self._leaders.leave(seat_id, by)
            elif mode == "takeover":
                assert leader is not None
                await self._leaders.take_over(seat_id, leader.id, leader.uri, by)
            else:
                assert leader is not None
                await self._leaders.join(seat_id, mode, leader.id, leader.uri, by)
        except ApiError:
            raise
        except Exception as exc:
            status = getattr(exc, "status", None)
            if not isinstance(status, int):
                raise
            raise ApiError(status, str(exc)) from exc
        now, leader_seat = self.supervised().get(seat_id, ("", ""))
        return JSONResponse({"seat_id": seat_id, "mode": now or mode, "leader": leader_seat or phone})
