"""The quality-check endpoints (/api/qa/...) in the console's OpenAPI document: `paths(op)` with
`agents.web.openapi`'s operation builder, so this module needs nothing from that one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_STR = {"type": "string"}
_NUM = {"type": "number"}
Op = Callable[..., dict[str, Any]]

REVIEW = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "call_id": _STR,
        "seat_id": _STR,
        "seat_name": _STR,
        "ticket_id": _STR,
        "reviewer": _STR,
        "at": _NUM,
        "ended_at": {"type": "number", "description": "when the call ended"},
        "score": {"type": "number", "description": "0-100: points given / points possible, capped by 差错"},
        "marks": {"type": "object", "additionalProperties": _NUM, "description": "checklist item -> points"},
        "fatal": {"type": "array", "items": _STR, "description": "差错 ids found"},
        "comment": _STR,
        "checklist": {"type": "string", "description": "name and version of the checklist scored against"},
        "after_appeal": {"type": "boolean", "description": "new scores given on deciding an appeal"},
    },
}
SCORING = {
    "type": "object",
    "properties": {
        "marks": {"type": "object", "additionalProperties": _NUM, "description": "every item, 0..weight"},
        "fatal": {"type": "array", "items": _STR},
        "comment": _STR,
    },
    "required": ["marks"],
}
DECISION = {
    "type": "object",
    "properties": {
        "decision": {"enum": ["upheld", "revised"]},
        "note": _STR,
        **SCORING["properties"],  # type: ignore[dict-item]
    },
    "required": ["decision", "note"],
    "description": "revised needs marks (the new score); upheld keeps the score",
}


def paths(op: Op) -> dict[str, dict[str, Any]]:
    one = ("call_id",)
    dates = ("from", "to")
    return {
        "/api/qa/checklist": {
            "get": op(
                "The quality checklist: items with weights, fatal errors (差错)", errors=(401, 403, 503)
            )
        },
        "/api/qa/queue": {
            "get": op(
                "The review queue (reviewer): state=queued (default) or reviewed",
                query=("state",),
                errors=(400, 401, 403),
            ),
            "post": op(
                "Queue one answered call for review by hand (reviewer)",
                body={"type": "object", "properties": {"call_id": _STR}, "required": ["call_id"]},
                errors=(400, 401, 403, 404, 409),
            ),
        },
        "/api/qa/sample": {
            "post": op(
                "Run the [qa] sampling rules now; returns how many calls were queued (reviewer)",
                errors=(401, 403),
            )
        },
        "/api/qa/calls/{call_id}": {
            "get": op(
                "A call in review: sample with reasons, call record (IVR path), ticket with the IVR"
                " transcript, number of recordings, every review (the last is the score), the appeal."
                " An operator: own calls only",
                params=one,
                errors=(401, 403, 404),
            )
        },
        "/api/qa/calls/{call_id}/recordings/{n}": {
            "get": op(
                "Recording n (from 0) as audio/wav, to the reviewer or the call's operator (bearer header:"
                " the page fetches it as a blob for its <audio> element)",
                params=("call_id", "n"),
                errors=(400, 401, 403, 404, 410),
            )
        },
        "/api/qa/calls/{call_id}/review": {
            "post": op(
                "Score the call against the checklist (reviewer); each save is kept as history",
                body=SCORING,
                ok=REVIEW,
                params=one,
                errors=(400, 401, 403, 404, 409, 413, 503),
            )
        },
        "/api/qa/calls/{call_id}/appeal": {
            "post": op(
                "The operator's one appeal against the call's score, with a reason (201; 409 after)",
                body={"type": "object", "properties": {"reason": _STR}, "required": ["reason"]},
                params=one,
                errors=(400, 401, 403, 404, 409, 413),
            )
        },
        "/api/qa/calls/{call_id}/appeal/decision": {
            "post": op(
                "Decide the appeal (reviewer): uphold, or revise with new marks",
                body=DECISION,
                params=one,
                errors=(400, 401, 403, 404, 409, 503),
            )
        },
        "/api/qa/appeals": {
            "get": op(
                "Appeals (reviewer): state=pending (default) or all", query=("state",), errors=(400, 401, 403)
            )
        },
        "/api/qa/scores": {
            "get": op(
                "Scores of calls ended from..to (dates, default this month): an operator's own; a reviewer's"
                " for seat=... or everyone",
                query=(*dates, "seat"),
                errors=(400, 401, 403),
            )
        },
        "/api/qa/figures": {
            "get": op(
                "Per operator (by=seat) or team (by=team) over calls ended from..to: reviews, average score,"
                " calls with 差错, below the pass score, appeals, revised; JSON or format=csv (reviewer)",
                query=(*dates, "by", "format"),
                errors=(400, 401, 403),
            )
        },
    }
