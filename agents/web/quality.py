"""Quality checks (质检) over HTTP, under /api/qa/...: the review queue, one call's review (its
recording, ticket and IVR path next to the checklist), saving scores, operators' own scores and
their one appeal, supervisors' decisions, and figures per operator and team (JSON or CSV).

Rights: reviewers are supervisors and see every call; an operator (seat session) sees only the
calls of their own seat, and only those in quality review; unit staff see nothing here.

Recordings are served to a signed-in reviewer or the call's operator only, by the same bearer
header as every other call: the page fetches the WAV as a blob and gives the <audio> element an
object URL (fetch-as-blob), so no credential ever sits in a URL or a log line. A recording path
is served only when it lies inside the recordings folder."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from agents.quality import QualityDesk, QualityError, Sampler, by_team, to_csv
from agents.quality.figures import rows as figure_rows
from agents.web.api import ApiError, endpoint, read_json, text_field, token_of
from agents.web.reports import ReportError, date_range
from agents.web.sessions import SUPERVISOR, Session, Sessions
from ivr.privacy import mask
from ivr.records import Review, Sample

REASON_NAMES = {"share": "按比例抽检", "complaint": "投诉", "long": "长通话", "low_satisfaction": "不满意",
                "manual": "人工指定"}  # fmt: skip


class QualityPages:
    def __init__(
        self,
        sessions: Sessions,
        desk: QualityDesk,
        sampler: Sampler,
        recordings: Path,
        seat_names: Callable[[], Mapping[str, str]],
        teams: Callable[[], Mapping[str, str]],
    ) -> None:
        self._sessions = sessions
        self._desk = desk
        self._sampler = sampler
        self._recordings = recordings.resolve()
        self._names = seat_names  # read at each use: the roster changes while the line runs
        self._teams = teams

    def routes(self) -> list[Route]:
        one = "/api/qa/calls/{call_id}"
        return [
            Route("/api/qa/checklist", endpoint(self.checklist)),
            Route("/api/qa/queue", endpoint(self.queue)),
            Route("/api/qa/queue", endpoint(self.add_to_queue), methods=["POST"]),
            Route("/api/qa/sample", endpoint(self.sample_now), methods=["POST"]),
            Route("/api/qa/scores", endpoint(self.scores)),
            Route("/api/qa/appeals", endpoint(self.appeals)),
            Route("/api/qa/figures", endpoint(self.figures)),
            Route(one, endpoint(self.call)),
            Route(one + "/recordings/{n}", endpoint(self.recording)),
            Route(one + "/review", endpoint(self.review), methods=["POST"]),
            Route(one + "/appeal", endpoint(self.appeal), methods=["POST"]),
            Route(one + "/appeal/decision", endpoint(self.decide), methods=["POST"]),
        ]

    # -- rights -----------------------------------------------------------------------------
    async def _session(self, request: Request) -> Session:
        session = await self._sessions.get(token_of(request))
        if session.role not in ("seat", SUPERVISOR):
            raise ApiError(403, "无权访问质检结果")
        return session

    async def _reviewer(self, request: Request) -> Session:
        session = await self._sessions.get(token_of(request))
        if session.role != SUPERVISOR:
            raise ApiError(403, "仅质检员（班长）可以访问")
        return session

    async def _sample_for(self, session: Session, call_id: str) -> Sample:
        try:
            sample = await self._desk.sample(call_id)
        except QualityError as exc:
            raise ApiError(exc.status, exc.message) from exc
        if session.role != SUPERVISOR and sample.seat_id != session.seat_id:
            raise ApiError(403, "只能查看本人通话的质检结果")
        return sample

    @staticmethod
    def _by(session: Session) -> str:
        return f"seat:{session.seat_id}" if session.role == "seat" else session.role

    # -- views ------------------------------------------------------------------------------
    def _sample_view(self, s: Sample) -> dict[str, Any]:
        return {
            "call_id": s.call_id,
            "seat_id": s.seat_id,
            "seat_name": self._names().get(s.seat_id, s.seat_id),
            "ticket_id": s.ticket_id,
            "ended_at": s.ended_at,
            "reasons": list(s.reasons),
            "reason_names": [REASON_NAMES.get(r, r) for r in s.reasons],
            "sampled_at": s.sampled_at,
            "state": s.state,
        }

    def _review_view(self, r: Review) -> dict[str, Any]:
        return {**r.as_dict(), "seat_name": self._names().get(r.seat_id, r.seat_id)}

    async def checklist(self, request: Request) -> Response:
        await self._session(request)
        if self._desk.checklist is None:
            raise ApiError(503, "未配置质检评分表（config.toml [qa] checklist）")
        return JSONResponse(self._desk.checklist.as_dict())

    async def queue(self, request: Request) -> Response:
        """`state` = queued (default: not yet scored) or reviewed."""
        await self._reviewer(request)
        state = request.query_params.get("state", "queued")
        if state not in ("queued", "reviewed"):
            raise ApiError(400, "state 应为 queued 或 reviewed")
        samples = await self._desk.store.reviews.queue(state, limit=500)
        return JSONResponse({"calls": [self._sample_view(s) for s in samples]})

    async def add_to_queue(self, request: Request) -> Response:
        """A reviewer puts one answered call in the queue by hand (人工指定)."""
        await self._reviewer(request)
        call_id = text_field(await read_json(request), "call_id")
        call = await self._desk.store.get_call(call_id)
        if call is None or not call.seat_id or call.ended_at is None:
            raise ApiError(404, f"没有已结束的人工接听通话 {call_id}")
        sample = Sample(call_id, call.seat_id, call.ticket_id, call.ended_at, ("manual",), time.time())
        added = await self._desk.store.reviews.add_samples([sample])
        if not added:
            raise ApiError(409, "该通话已在质检队列中")
        return JSONResponse(self._sample_view(sample), status_code=201)

    async def sample_now(self, request: Request) -> Response:
        """Run the sampling rules now instead of waiting for the next round."""
        await self._reviewer(request)
        return JSONResponse({"added": await self._sampler.run_once()})

    async def call(self, request: Request) -> Response:
        """Everything a review looks at: the sample, the call record's IVR path, the ticket
        with the caller's words, the recordings, every review (the last is the score), the appeal."""
        session = await self._session(request)
        sample = await self._sample_for(session, request.path_params["call_id"])
        store = self._desk.store
        cdr = await store.get_call(sample.call_id)
        ticket = await store.tickets.get(sample.ticket_id) if sample.ticket_id else None
        appeal = await store.reviews.appeal(sample.call_id)
        out: dict[str, Any] = {
            "sample": self._sample_view(sample),
            "call": None,
            "ticket": None,
            "recordings": 0,
            "reviews": [self._review_view(r) for r in await store.reviews.reviews(sample.call_id)],
            "appeal": appeal.as_dict() if appeal is not None else None,
        }
        if cdr is not None:
            out["call"] = {
                "caller": mask(cdr.caller),
                "started_at": cdr.started_at,
                "ended_at": cdr.ended_at,
                "flow": cdr.flow,
                "path": list(cdr.path),
                "queue": cdr.queue,
                "outcome": cdr.outcome,
            }
        if ticket is not None:
            ctx = ticket.context
            out["ticket"] = {
                "id": ticket.id,
                "caller": mask(ticket.caller),
                "status": ticket.status,
                "category": "/".join(c for c in ticket.category if c),
                "address": ticket.address,
                "description": ticket.description,
                "urgency": ticket.urgency,
                "unit": ticket.unit,
                "survey": dict(ticket.survey),
                "ivr_path": list(ctx.get("path", [])),
                "choices": dict(ctx.get("choices", {})),
                "transcript": list(ctx.get("transcript", [])),
            }
            out["recordings"] = len(ctx.get("recordings", []))
        return JSONResponse(out)

    async def recording(self, request: Request) -> Response:
        session = await self._session(request)
        sample = await self._sample_for(session, request.path_params["call_id"])
        ticket = await self._desk.store.tickets.get(sample.ticket_id) if sample.ticket_id else None
        paths = list(ticket.context.get("recordings", [])) if ticket is not None else []
        n = int(request.path_params["n"]) if request.path_params["n"].isdigit() else -1
        if not 0 <= n < len(paths):
            raise ApiError(404, "该通话没有这段录音")
        path = await asyncio.to_thread(self._local_file, str(paths[n]))
        return FileResponse(path, media_type="audio/wav", headers={"cache-control": "private, no-store"})

    def _local_file(self, raw: str) -> Path:
        path = Path(raw).resolve()
        if not path.is_relative_to(self._recordings) or path.suffix != ".wav":
            raise ApiError(403, "录音不在录音目录内，拒绝提供")
        if not path.is_file():
            raise ApiError(410, "录音文件已过保存期限或已被删除")
        return path

    # -- scoring and appeals ----------------------------------------------------------------
    async def review(self, request: Request) -> Response:
        session = await self._reviewer(request)
        data = await read_json(request)
        comment = text_field(data, "comment", required=False, limit=2000)
        try:
            review = await self._desk.review(
                request.path_params["call_id"],
                data.get("marks"),  # type: ignore[arg-type]  # the desk checks the shape
                data.get("fatal", []),
                comment,
                by=self._by(session),
            )
        except QualityError as exc:
            raise ApiError(exc.status, exc.message) from exc
        return JSONResponse(self._review_view(review))

    async def scores(self, request: Request) -> Response:
        """Scores over `from`..`to` (dates, default: this month): an operator's own; a
        reviewer's for `seat` or everyone."""
        session = await self._session(request)
        since, until, start, end = _dates(request)
        seat = request.query_params.get("seat", "")
        if session.role == "seat":
            if seat and seat != session.seat_id:
                raise ApiError(403, "只能查看本人的质检结果")
            seat = session.seat_id
        found = await self._desk.store.reviews.scores(seat, since, until)
        appeals = {
            a.call_id: a for a in await self._desk.store.reviews.appeals_for([r.call_id for r in found])
        }
        rows = [
            {**self._review_view(r), "appeal": appeals[r.call_id].as_dict() if r.call_id in appeals else None}
            for r in found
        ]
        return JSONResponse({"from": start, "to": end, "scores": rows})

    async def appeal(self, request: Request) -> Response:
        session = await self._sessions.get(token_of(request))
        if session.role != "seat":
            raise ApiError(403, "只有话务员本人可以申诉")
        reason = text_field(await read_json(request), "reason", limit=1000)
        try:
            appeal = await self._desk.appeal(request.path_params["call_id"], session.seat_id, reason)
        except QualityError as exc:
            raise ApiError(exc.status, exc.message) from exc
        return JSONResponse(appeal.as_dict(), status_code=201)

    async def appeals(self, request: Request) -> Response:
        """`state` = pending (default) or all."""
        await self._reviewer(request)
        state = request.query_params.get("state", "pending")
        if state not in ("pending", "all"):
            raise ApiError(400, "state 应为 pending 或 all")
        found = await self._desk.store.reviews.appeals(pending=state == "pending", limit=500)
        names = self._names()
        return JSONResponse(
            {"appeals": [{**a.as_dict(), "seat_name": names.get(a.seat_id, a.seat_id)} for a in found]}
        )

    async def decide(self, request: Request) -> Response:
        session = await self._reviewer(request)
        data = await read_json(request)
        decision = text_field(data, "decision", limit=20)
        note = text_field(data, "note", limit=1000)
        try:
            appeal, review = await self._desk.decide(
                request.path_params["call_id"],
                decision,
                note,
                by=self._by(session),
                marks=data.get("marks"),
                fatal=data.get("fatal", []),
                comment=text_field(data, "comment", required=False, limit=2000),
            )
        except QualityError as exc:
            raise ApiError(exc.status, exc.message) from exc
        return JSONResponse({"appeal": appeal.as_dict(), "score": self._review_view(review)})

    # -- figures ----------------------------------------------------------------------------
    async def figures(self, request: Request) -> Response:
        """Per operator (`by=seat`, default) or team (`by=team`) over `from`..`to`; JSON or
        `format=csv`."""
        await self._reviewer(request)
        since, until, start, end = _dates(request)
        group = request.query_params.get("by", "seat")
        fmt = request.query_params.get("format", "json")
        if group not in ("seat", "team") or fmt not in ("json", "csv"):
            raise ApiError(400, "by 应为 seat 或 team，format 应为 json 或 csv")
        checklist = self._desk.checklist
        pass_score = checklist.pass_score if checklist is not None else 60.0
        figures = await self._desk.store.reviews.figures(since, until, pass_score)
        if group == "team":
            table = figure_rows(by_team(figures, self._teams()), {})
        else:
            table = figure_rows(figures, self._names())
            for row in table:
                row["team"] = self._teams().get(row["key"], "")
        if fmt == "json":
            return JSONResponse(
                {"from": start, "to": end, "by": group, "pass_score": pass_score, "rows": table}
            )
        return Response(
            to_csv(table),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="qa-{group}-{start}-{end}.csv"'},
        )


def _dates(request: Request) -> tuple[float, float, str, str]:
    today = date.fromtimestamp(time.time())
    start = request.query_params.get("from", today.replace(day=1).isoformat())
    end = request.query_params.get("to", today.isoformat())
    try:
        since, until = date_range(start, end)
    except ReportError as exc:
        raise ApiError(400, str(exc)) from exc
    return since, until, start, end
