"""The audit trail over HTTP: what the console records of people reading citizens' data, and
`GET /api/audit` for supervisors to read the trail.

Reads are recorded from the answered request (agents/web/gate.py), by route: a ticket read by a
person, a ticket search or list, a follow-up list, a CSV export, a recording played; and every
403 (a rights refusal). Sign-ins, failures, lockouts and sign-outs are recorded where they
happen (agents/web/sessions.py, agents/web/guard.py). The actor is the session's person; the
query string goes into the detail (it holds search terms, never a token: tokens in URLs are
refused)."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agents.web.api import ApiError, endpoint, token_of
from agents.web.gate import Answered
from agents.web.sessions import Sessions
from ivr.store import AuditQuery

# GET routes whose successful answers are audited: pattern -> action (group 1: the subject)
READS = (
    (re.compile(r"^/api/tickets/([^/]+)$"), "ticket.read"),
    (re.compile(r"^/api/tickets/([^/]+)/history$"), "ticket.read"),
    (re.compile(r"^/api/units/[^/]+/tickets/([^/]+)$"), "ticket.read"),
    (re.compile(r"^/api/tickets()$"), "ticket.search"),
    (re.compile(r"^/api/units/([^/]+)/(?:inbox|tickets)$"), "ticket.list"),
    (re.compile(r"^/api/followups()$"), "followup.list"),
    (re.compile(r"^/api/tickets/([^/]+/recordings/[^/]+)$"), "recording.play"),
    (re.compile(r"^/api/audit()$"), "audit.read"),
)
EXPORT = re.compile(r"^/api/reports/([^/]+)$")
LIMIT_MAX = 5000


class AuditDesk:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions
        self._audit = sessions.audit

    def observe(self, done: Answered) -> None:
        actor = self._actor(done.token)
        if done.status == 403:
            self._audit.record(actor, "refused", f"{done.method} {done.path}", done.address)
            return
        if done.method != "GET" or not 200 <= done.status < 300:
            return
        export = EXPORT.match(done.path)
        if export and parse_qs(done.query).get("format") == ["csv"]:
            self._audit.record(actor, "export.csv", export.group(1), done.address, done.query)
            return
        for pattern, action in READS:
            found = pattern.match(done.path)
            if found:
                self._audit.record(actor, action, found.group(1), done.address, done.query)
                return

    def _actor(self, token: str) -> str:
        session = self._sessions.known(token)
        return session.actor if session is not None else "anonymous"

    def routes(self) -> list[Route]:
        return [Route("/api/audit", endpoint(self.read))]

    async def read(self, request: Request) -> Response:
        """GET /api/audit?from=YYYY-MM-DD&to=YYYY-MM-DD&actor=&action=&subject=&limit="""
        self._sessions.require_supervisor(await self._sessions.get(token_of(request)))
        p = request.query_params
        try:
            since = datetime.strptime(p["from"], "%Y-%m-%d").timestamp() if p.get("from") else 0.0
            until = (
                datetime.strptime(p["to"], "%Y-%m-%d").timestamp() + 86400 if p.get("to") else float("inf")
            )
            limit = int(p.get("limit", "500"))
        except ValueError as exc:
            raise ApiError(400, "from/to 应为 YYYY-MM-DD 日期，limit 应为整数") from exc
        if not 1 <= limit <= LIMIT_MAX:
            raise ApiError(400, f"limit 应在 1 到 {LIMIT_MAX} 之间")
        query = AuditQuery(
            since,
            until,
            p.get("actor", "")[:100],
            p.get("action", "")[:50],
            p.get("subject", "")[:200],
            limit,
        )
        await self._audit.flush()  # what was just done is in the answer
        found = await self._audit.search(query)
        return JSONResponse({"entries": [e.__dict__ for e in found]})
