"""Follow-up tasks over HTTP (`/api/followups...`): the operators' worklist of citizens the line
could not reach, taking a task (and putting it back), placing the call from the page (the seat's
phone rings first, then the citizen), and recording the answer, which closes the ticket or
reopens it (重办).

Seats work the list; supervisors read it. Unit staff have no access: the citizen's answers are
the centre's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agents.followups import FollowupDesk
from agents.tickets.lifecycle import LifeError
from agents.web.api import ApiError, endpoint, read_json, text_field, token_of
from agents.web.sessions import SUPERVISOR, Session, Sessions
from ivr.control import ControlError
from ivr.records import FOLLOWUP_STATES, Followup, OutboundResult

# seat URI, citizen's number, call id -> how the call went (ivr.sip.outcall.OutboundFlows.connect)
Dialer = Callable[[str, str, str], Awaitable[OutboundResult]]


class FollowupPages:
    def __init__(self, sessions: Sessions, desk: FollowupDesk, seat_uri: Callable[[str], str]) -> None:
        self._sessions = sessions
        self._desk = desk
        self._seat_uri = seat_uri
        self.dialer: Dialer | None = None  # set by the line once SIP runs

    def routes(self) -> list[Route]:
        one = "/api/followups/{task_id}"
        return [
            Route("/api/followups", endpoint(self.worklist)),
            Route(one + "/take", endpoint(self.take), methods=["POST"]),
            Route(one + "/release", endpoint(self.release), methods=["POST"]),
            Route(one + "/call", endpoint(self.call), methods=["POST"]),
            Route(one + "/answer", endpoint(self.answer), methods=["POST"]),
        ]

    async def _session(self, request: Request, *, seat: bool = False) -> Session:
        session = await self._sessions.get(token_of(request))
        if session.role not in ("seat", SUPERVISOR) or (seat and session.role != "seat"):
            raise ApiError(403, "只有话务员可以办理回访" if seat else "无权访问回访任务")
        return session

    async def _view(self, task: Followup) -> dict[str, Any]:
        ticket = await self._desk.store.tickets.get(task.ticket_id)
        view: dict[str, Any] = {k: getattr(task, k) for k in task.__dataclass_fields__}
        view["answer"] = dict(task.answer)
        if ticket is not None:
            view["ticket"] = {
                "id": ticket.id,
                "status": ticket.status,
                "unit": ticket.unit,
                "description": ticket.description,
                "reply": dict(ticket.reply),
                "category": "/".join(c for c in ticket.category if c),
            }
        return view

    async def _task(self, request: Request) -> Followup:
        task = await self._desk.store.followups.get(request.path_params["task_id"])
        if task is None:
            raise ApiError(404, f"没有回访任务 {request.path_params['task_id']}")
        return task

    async def worklist(self, request: Request) -> Response:
        """`state` = worklist (default), due, calling or done."""
        await self._session(request)
        state = request.query_params.get("state", "worklist")
        if state not in FOLLOWUP_STATES:
            raise ApiError(400, f"state 应为 {', '.join(FOLLOWUP_STATES)} 之一")
        tasks = await self._desk.store.followups.in_state(state, limit=200)
        return JSONResponse({"tasks": [await self._view(t) for t in tasks]})

    async def take(self, request: Request) -> Response:
        """A seat takes a task off the worklist (one taker wins: 409 for the others)."""
        session = await self._session(request, seat=True)
        task = await self._task(request)
        taken = await self._desk.store.followups.claim(
            task.id, "worklist", "calling", operator=session.seat_id
        )
        if taken is None:
            raise ApiError(409, "该回访任务已被其他话务员领取")
        return JSONResponse(await self._view(taken))

    async def release(self, request: Request) -> Response:
        """Back to the worklist, for another operator: by the seat that took it, or by a
        supervisor (an operator who left at the end of a shift)."""
        session = await self._session(request)
        task = await self._task(request)
        if task.state != "calling" or not task.operator:
            raise ApiError(409, "该回访任务未被领取")
        if session.role != SUPERVISOR and task.operator != session.seat_id:
            raise ApiError(403, "只能退回本座席领取的回访任务")
        back = await self._desk.store.followups.claim(task.id, "calling", "worklist")
        if back is None:
            raise ApiError(409, "该回访任务状态已变化，请刷新")
        back = replace(back, operator="")
        await self._desk.store.followups.save(back)
        return JSONResponse(await self._view(back))

    async def _mine(self, request: Request) -> tuple[Session, Followup]:
        session = await self._session(request, seat=True)
        task = await self._task(request)
        if task.state != "calling" or task.operator != session.seat_id:
            raise ApiError(409, "请先领取该回访任务")
        return session, task

    async def call(self, request: Request) -> Response:
        """Ring the seat's phone, then the citizen, and bridge them."""
        session, task = await self._mine(request)
        if self.dialer is None:
            raise ApiError(503, "外呼线路未启用，请用电话手工拨打后记录结果")
        try:
            result = await self.dialer(self._seat_uri(session.seat_id), task.caller, f"followup-{task.id}")
        except ControlError as exc:  # the seat is on a call, or no outbound line
            raise ApiError(exc.status, exc.message) from exc
        return JSONResponse({"outcome": result.outcome})

    async def answer(self, request: Request) -> Response:
        session, task = await self._mine(request)
        data = await read_json(request)
        solved = data.get("solved")
        if not isinstance(solved, bool):
            raise ApiError(400, "solved 应为 true 或 false")
        satisfaction = text_field(data, "satisfaction", limit=10)
        words = text_field(data, "words", required=False, limit=500)
        try:
            ticket = await self._desk.answer(
                task, solved, satisfaction, by=f"seat:{session.seat_id}", words=words
            )
        except LifeError as exc:
            raise ApiError(exc.status, exc.message) from exc
        return JSONResponse({"ticket_id": ticket.id, "status": ticket.status})
