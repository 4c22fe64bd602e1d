"""Figures of the ticket's life after the call, over a date range, per unit, category,
district (the unit's district) or team (班组 of the operator who took the ticket, from
`Store.seat_teams()`), from the events in the tickets' history:

- received: dispatches (and re-dispatches) to the unit;
- on_time_rate: replies made by the deadline in force / replies;
- returned_rate: returns (退单) / received;
- reopened_rate: reopens after a follow-up (重办) / replies;
- resolution_rate: follow-up answers "solved" / follow-up answers;
- satisfaction_rate: follow-up answers 满意 or 基本满意 / follow-up answers.

An event counts for the unit the ticket was with at that moment (the history is walked from the
creation), and in the range its time falls in. Rates are None when their base is 0."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from ivr.records import Ticket, TicketChange
from ivr.store import Store

COLUMNS = (
    "name",
    "received",
    "replied",
    "on_time_rate",
    "returned_rate",
    "reopened_rate",
    "followups",
    "resolution_rate",
    "satisfaction_rate",
)
GROUPS = ("unit", "category", "district", "team")
_COUNTS = ("received", "replied", "on_time", "returned", "reopened", "followups", "solved", "satisfied")


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _followup_answer(change: TicketChange) -> Mapping[str, Any]:
    survey = change.changes.get("survey", (None, {}))[1] or {}
    answer = survey.get("followup", {}) if isinstance(survey, Mapping) else {}
    return answer if isinstance(answer, Mapping) else {}


async def unit_figures(store: Store, since: float, until: float, group: str = "unit") -> list[dict[str, Any]]:
    """One row per unit, category (first level) or district, busiest first."""
    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}")
    districts = {u.name: u.district for u in await store.units.units()}
    teams = await store.seat_teams() if group == "team" else {}
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_COUNTS, 0))
    touched = {e.ticket_id for e in await store.tickets.events(since, until)}
    for ticket_id in sorted(touched):
        ticket = await store.tickets.get(ticket_id)
        if ticket is not None:
            history = await store.tickets.history(ticket_id)
            _walk(ticket, history, since, until, group, districts, counts, teams)
    rows = []
    for name, c in counts.items():
        rows.append(
            {
                "name": name,
                "received": c["received"],
                "replied": c["replied"],
                "on_time_rate": _rate(c["on_time"], c["replied"]),
                "returned_rate": _rate(c["returned"], c["received"]),
                "reopened_rate": _rate(c["reopened"], c["replied"]),
                "followups": c["followups"],
                "resolution_rate": _rate(c["solved"], c["followups"]),
                "satisfaction_rate": _rate(c["satisfied"], c["followups"]),
            }
        )
    return sorted(rows, key=lambda r: (-r["received"], -r["replied"], r["name"]))


def _walk(
    ticket: Ticket,
    history: list[TicketChange],
    since: float,
    until: float,
    group: str,
    districts: Mapping[str, str],
    counts: dict[str, dict[str, int]],
    teams: Mapping[str, str],
) -> None:
    unit, due = "", 0.0
    for h in history:
        if "unit" in h.changes:
            unit = str(h.changes["unit"][1] or "")
        if "due_at" in h.changes:
            due = float(h.changes["due_at"][1] or 0.0)
        if not h.event or not since <= h.at < until:
            continue
        keys = {
            "unit": unit,
            "category": ticket.category1,
            "district": districts.get(unit, ""),
            "team": teams.get(ticket.operator, ""),
        }
        key = keys[group] or "（未填）"
        c = counts[key]
        if h.event in ("dispatch", "redispatch"):
            c["received"] += 1
        elif h.event == "return":
            c["returned"] += 1
        elif h.event == "reply":
            c["replied"] += 1
            c["on_time"] += int(not due or h.at <= due)
        elif h.event == "reopen":
            c["reopened"] += 1
        elif h.event == "followup":
            answer = _followup_answer(h)
            c["followups"] += 1
            c["solved"] += int(answer.get("solved") is True)
            c["satisfied"] += int(answer.get("satisfaction") in ("满意", "基本满意"))
