"""The console's REST API as OpenAPI 3.1 (served at /api/openapi.json; prose in docs/api.md).
Written by hand next to the routes; a test checks that every route is described here."""

from __future__ import annotations

from typing import Any

from agents.web.calls import call_paths
from agents.web.qualityspec import paths as quality_paths
from ivr.records import STATUSES

_ERR = {"description": 'refused: {"error": message, "status": code}; nothing changed'}
_STR = {"type": "string"}

TICKET = {
    "type": "object",
    "properties": {
        name: _STR
        for name in (
            "id caller channel call_id category1 category2 category3 address description urgency unit status "
            "operator"
        ).split()
    }
    | {
        "created_at": {"type": "number"},
        "updated_at": {"type": "number"},
        "context": {"type": "object"},
        "status": {"enum": list(STATUSES)},
        "due_at": {"type": "number", "description": "the unit's deadline, epoch seconds; 0: none"},
        "reply": {"type": "object", "description": "the unit's reply: done, result, at, by"},
        "seconds_left": {"type": ["number", "null"], "description": "to the deadline (lists only)"},
        "overdue": {"type": "boolean"},
    },
}
TICKETS = {
    "type": "object",
    "properties": {"tickets": {"type": "array", "items": TICKET}, "now": {"type": "number"}},
}
SEARCH_Q = ("number", "caller", "category", "status", "unit", "operator", "from", "to", "limit")
SEAT = {
    "type": "object",
    "properties": {
        "seat_id": _STR,
        "name": _STR,
        "state": {"enum": ["logged_out", "ready", "not_ready", "ringing", "talking", "wrap_up"]},
        "reason": _STR,
        "since": {"type": "number"},
        "now": {"type": "number"},
        "call_id": _STR,
        "pending": _STR,
        "wrapup_ends": {"type": ["number", "null"]},
    },
}
FIELDS = {
    "type": "object",
    "description": "operator-editable fields (strings); limits: category 50, address 300, "
    "description 5000, unit 100 characters",
    "properties": {n: _STR for n in ("category1", "category2", "category3", "address", "description", "unit")}
    | {
        "urgency": {"enum": ["normal", "urgent", "critical"]},
        "status": {"enum": ["draft", "open", "dispatched", "closed"]},
    },
    "additionalProperties": False,
}


def _op(
    summary: str,
    *,
    body: dict[str, Any] | None = None,
    ok: dict[str, Any] | None = None,
    errors: tuple[int, ...] = (401,),
    params: tuple[str, ...] = (),
    query: tuple[str, ...] = (),
    public: bool = False,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {"200": {"description": "OK"}}}
    if ok is not None:
        op["responses"]["200"]["content"] = {"application/json": {"schema": ok}}
    for code in errors:
        op["responses"][str(code)] = _ERR
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    parameters = [{"name": p, "in": "path", "required": True, "schema": _STR} for p in params]
    parameters += [{"name": q, "in": "query", "schema": _STR} for q in query]
    if parameters:
        op["parameters"] = parameters
    if public:
        op["security"] = []
    return op


def spec() -> dict[str, Any]:
    login = {
        "type": "object",
        "properties": {
            "seat_id": _STR,
            "password": _STR,
            "role": {"enum": ["seat", "supervisor", "unit", "admin"]},
            "login": {"type": "string", "description": "a supervisor's or unit staff member's login"},
            "takeover": {"type": "boolean", "description": "close the seat's other open console"},
        },
        "required": ["password"],
    }
    state = {
        "type": "object",
        "properties": {
            "action": {"enum": ["login", "logout", "ready", "not_ready", "end_wrapup"]},
            "reason": {"type": "string", "description": "needed for not_ready: break, training, ..."},
        },
        "required": ["action"],
    }
    report_q = ("from", "to", "format")
    paths: dict[str, dict[str, Any]] = {
        "/api/login": {
            "post": _op(
                "Log in as a seat (seat_id + password), as supervisor (role=supervisor) or as unit staff"
                " (role=unit, login + password); returns a token, and for a seat `mqtt`: its console's"
                " broker account until the session ends (or null)",
                body=login,
                errors=(400, 401, 409, 413, 429),
                public=True,
            )
        },
        "/api/logout": {"post": _op("End this session (and the seat's broker account)")},
        "/api/me": {"get": _op("The session's role, seat and the seat's state")},
        "/api/seats/{seat_id}": {
            "get": _op("A seat's state", ok=SEAT, params=("seat_id",), errors=(401, 403, 404))
        },
        "/api/seats/{seat_id}/state": {
            "post": _op(
                "Change the seat's state (签入/就绪/示忙/小休/签出, end wrap-up)",
                body=state,
                ok=SEAT,
                params=("seat_id",),
                errors=(400, 401, 403, 404, 409),
            )
        },
        "/api/seats/{seat_id}/offer": {
            "get": _op(
                "The current screen pop (payload as MQTT screen_pop, ticket as now) or null",
                params=("seat_id",),
                errors=(401, 403, 404),
            )
        },
        "/api/tickets/{ticket_id}": {
            "get": _op(
                "A ticket the seat operates", ok=TICKET, params=("ticket_id",), errors=(401, 403, 404)
            ),
            "patch": _op(
                "Change ticket fields (autosave); status=dispatched needs category1, description, unit",
                body={"type": "object", "properties": {"fields": FIELDS}, "required": ["fields"]},
                ok=TICKET,
                params=("ticket_id",),
                errors=(400, 401, 403, 404, 413, 422),
            ),
        },
        "/api/tickets/{ticket_id}/history": {
            "get": _op("Every change of a ticket (field, old, new, actor, time)", params=("ticket_id",))
        },
        "/api/taxonomy": {"get": _op("The three-level category tree")},
        "/api/taxonomy/search": {"get": _op("Type-ahead over the categories", query=("q",))},
        "/api/units/suggest": {
            "get": _op(
                "The responsible unit for a category and address",
                query=("category1", "category2", "category3", "address"),
            )
        },
        "/api/knowledge": {"get": _op("Knowledge base answers for a query", query=("q",))},
        "/api/board": {"get": _op("Live board: queues, seats, nodes (supervisor)", errors=(401, 403))},
        "/api/charts": {"get": _op("Today's series per 15 min / 5 min (supervisor)", errors=(401, 403))},
        "/api/hotspots": {
            "get": _op(
                "Hot spots: clusters of calls about one problem at one place (supervisor)", errors=(401, 403)
            )
        },
        "/api/hotspots/dispatch": {
            "post": _op(
                "Dispatch every open ticket of a hot spot to one unit (supervisor; all or nothing)",
                body={
                    "type": "object",
                    "required": ["id", "unit"],
                    "properties": {
                        "id": {**_STR, "description": "the hot spot's id: place|category"},
                        "unit": _STR,
                    },
                },
                errors=(400, 401, 403, 404, 409, 422),
            )
        },
        "/api/reports/queues": {
            "get": _op(
                "Per-queue report for a date range, JSON or CSV", query=report_q, errors=(400, 401, 403)
            )
        },
        "/api/reports/operators": {
            "get": _op(
                "Per-operator report: calls, AHT, wrap-up, not-ready", query=report_q, errors=(400, 401, 403)
            )
        },
        "/api/reports/units": {
            "get": _op(
                "After-call figures per unit (group=unit|category|district): received, on-time, returned,"
                " reopened, resolution and satisfaction rates; JSON or CSV",
                query=(*report_q, "group"),
                errors=(400, 401, 403),
            )
        },
        "/api/openapi.json": {"get": _op("This document", public=True, errors=())},
        "/api/live/ticket": {
            "post": _op("A one-use ticket (valid [signin] ticket_seconds) to open /api/live?ticket=...")
        },
        "/api/audit": {
            "get": _op(
                "The audit trail, newest first (supervisors): sign-ins, failures, lockouts, refusals,"
                " reads, exports, recording plays, deletions; actor/action/subject match prefixes",
                query=("from", "to", "actor", "action", "subject", "limit"),
                errors=(400, 401, 403),
            )
        },
        "/api/tickets/{ticket_id}/recordings": {
            "get": _op("A ticket's call recordings (supervisors)", params=("ticket_id",), errors=(401, 403))
        },
        "/api/tickets/{ticket_id}/recordings/{name}": {
            "get": _op(
                "Play one recording (audio/wav; supervisors; audited)",
                params=("ticket_id", "name"),
                errors=(401, 403, 404),
            )
        },
        **_after_call(),
        **quality_paths(_op),
        **_teams(),
        **call_paths(_op),  # the operator's call controls
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "12345 Hotline console API", "version": "1"},
        "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
        "security": [{"token": []}],
        "paths": paths,
    }


def _teams() -> dict[str, dict[str, Any]]:
    """Seats and teams (admin), a team leader on a call, figures per team."""
    admin = (400, 401, 403, 409)
    obj: dict[str, Any] = {"type": "object"}
    mode = {"enum": ["listen", "whisper", "barge", "takeover", "leave"]}
    supervise = {"type": "object", "required": ["mode"], "properties": {"mode": mode, "phone": _STR}}
    return {
        "/api/admin/roster": {"get": _op("Teams, seats (config.toml's read-only), shifts, queues (admin)")},
        "/api/admin/teams/{team_id}": {
            "put": _op(
                "Add or change a team: name, leader seat (admin)", body=obj, params=("team_id",), errors=admin
            ),
            "delete": _op("Delete a team without seats (admin)", params=("team_id",), errors=(*admin, 404)),
        },
        "/api/admin/seats/{seat_id}": {
            "put": _op(
                "Add or change a store seat: name, uri, team, shift, skills, queues, wrapup, password",
                body=obj,
                params=("seat_id",),
                errors=admin,
            ),
            "delete": _op(
                "Delete a store seat that is signed out (admin)", params=("seat_id",), errors=(*admin, 404)
            ),
        },
        "/api/admin/seats/import": {
            "post": _op(
                "Import seats from the CSV in the body, all or nothing; 422 lists each problem with its line",
                query=("name",),
                errors=(401, 403, 413, 422),
            )
        },
        "/api/seats/{seat_id}/supervise": {
            "post": _op(
                "A leader on the seat's call: listen, whisper, barge, takeover, leave; the line rings the"
                " leader's seat phone (a supervisor names it in `phone`); a team leader for their teams only",
                body=supervise,
                params=("seat_id",),
                errors=(400, 401, 403, 404, 409, 410, 502, 503, 504),
            )
        },
        "/api/reports/teams": {
            "get": _op(
                "Per team: seats, calls, talk, wrap-up, AHT, not-ready, surveys, satisfaction; JSON or CSV",
                query=("from", "to", "format"),
                errors=(400, 401, 403),
            )
        },
    }


def _after_call() -> dict[str, dict[str, Any]]:
    """The ticket's life after filing: search, the dispatch desk, the unit's side."""
    unit_p, one = ("unit_id",), ("unit_id", "ticket_id")
    acting = (400, 401, 403, 404, 409, 413)

    def text(*names: str) -> dict[str, Any]:
        return {"type": "object", "properties": {n: _STR for n in names}, "required": list(names)}

    reply = {
        "type": "object",
        "properties": {"done": _STR, "result": {"enum": ["solved", "explained", "unsolvable"]}},
        "required": ["done", "result"],
    }
    return {
        "/api/tickets": {
            "get": _op(
                "Search tickets (newest first; a seat finds its own only, a supervisor all)",
                ok=TICKETS,
                query=SEARCH_Q,
                errors=(400, 401, 403),
            )
        },
        "/api/tickets/{ticket_id}/dispatch": {
            "post": _op(
                "Dispatch desk: send a returned ticket to a unit again (supervisor)",
                body={"type": "object", "properties": {"unit": _STR, "note": _STR}, "required": ["unit"]},
                ok=TICKET,
                params=("ticket_id",),
                errors=(400, 401, 403, 404, 409, 422),
            )
        },
        "/api/oversight": {
            "get": _op(
                "督办: tickets at units due soon or overdue (counts, per unit, the first 50) and"
                " calendar warnings (supervisor)",
                errors=(401, 403),
            )
        },
        "/api/tickets/{ticket_id}/close": {
            "post": _op(
                "Dispatch desk: close a returned ticket with a reason (supervisor)",
                body=text("note"),
                ok=TICKET,
                params=("ticket_id",),
                errors=(400, 401, 403, 404, 409),
            )
        },
        "/api/followups": {
            "get": _op(
                "Follow-up tasks: the operators' worklist (state=worklist), or due, calling, done",
                query=("state",),
                errors=(400, 401, 403),
            )
        },
        "/api/followups/{task_id}/take": {
            "post": _op(
                "Take a task off the worklist (seat)", params=("task_id",), errors=(401, 403, 404, 409)
            )
        },
        "/api/followups/{task_id}/release": {
            "post": _op(
                "Put a taken task back on the worklist (its seat, or a supervisor at a shift change)",
                params=("task_id",),
                errors=(401, 403, 404, 409),
            )
        },
        "/api/followups/{task_id}/call": {
            "post": _op(
                "Place the call: the seat's phone rings, then the citizen's (seat, task taken)",
                params=("task_id",),
                errors=(401, 403, 404, 409, 503),
            )
        },
        "/api/followups/{task_id}/answer": {
            "post": _op(
                "Record the citizen's answer; unsolved or 不满意 reopens the ticket (重办), else it closes",
                body={
                    "type": "object",
                    "properties": {
                        "solved": {"type": "boolean"},
                        "satisfaction": {"enum": ["满意", "基本满意", "不满意"]},
                        "words": _STR,
                    },
                    "required": ["solved", "satisfaction"],
                },
                params=("task_id",),
                errors=(400, 401, 403, 404, 409),
            )
        },
        "/api/knowledge/articles": {
            "get": _op(
                "Every knowledge article's latest version, retired ones marked (supervisor)",
                errors=(401, 403),
            ),
            "post": _op(
                "Add an article (supervisor)",
                body={
                    "type": "object",
                    "properties": {
                        "title": _STR,
                        "answer": _STR,
                        "keywords": {"type": "array", "items": _STR},
                    },
                    "required": ["title", "answer"],
                },
                errors=(400, 401, 403, 409, 413),
            ),
        },
        "/api/knowledge/articles/{article}": {
            "patch": _op(
                "Change an article's title, answer or keywords: a new version (supervisor)",
                params=("article",),
                errors=(400, 401, 403, 404, 409, 413),
            )
        },
        "/api/knowledge/articles/{article}/retire": {
            "post": _op(
                "Retire an article: operators no longer find it (supervisor)",
                params=("article",),
                errors=(401, 403, 404, 409),
            )
        },
        "/api/knowledge/articles/{article}/history": {
            "get": _op(
                "Every version of an article (supervisor)", params=("article",), errors=(401, 403, 404)
            )
        },
        "/api/units/{unit_id}": {"get": _op("The unit: id, name, kind, district", params=unit_p)},
        "/api/units/{unit_id}/inbox": {
            "get": _op(
                "Tickets the unit must handle, earliest deadline first (caller masked)",
                ok=TICKETS,
                params=unit_p,
                errors=(401, 403, 404),
            )
        },
        "/api/units/{unit_id}/tickets": {
            "get": _op("Search the unit's tickets", ok=TICKETS, params=unit_p, query=SEARCH_Q)
        },
        "/api/units/{unit_id}/tickets/{ticket_id}": {
            "get": _op("A ticket of the unit with its history", params=one, errors=(401, 403, 404))
        },
        "/api/units/{unit_id}/tickets/{ticket_id}/accept": {
            "post": _op("Accept the ticket (接单)", ok=TICKET, params=one, errors=acting)
        },
        "/api/units/{unit_id}/tickets/{ticket_id}/return": {
            "post": _op(
                "Return it to the dispatch desk with a reason (退单)",
                body=text("reason"),
                ok=TICKET,
                params=one,
                errors=acting,
            )
        },
        "/api/units/{unit_id}/tickets/{ticket_id}/notes": {
            "post": _op("Add a progress note", body=text("text"), ok=TICKET, params=one, errors=acting)
        },
        "/api/units/{unit_id}/tickets/{ticket_id}/reply": {
            "post": _op(
                "Reply: what was done and the result (办结反馈); a follow-up becomes due",
                body=reply,
                ok=TICKET,
                params=one,
                errors=acting,
            )
        },
    }
