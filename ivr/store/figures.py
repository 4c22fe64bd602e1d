"""The after-call figures as aggregate queries (GROUP BY in the database, for SQLite and
PostgreSQL alike): counts of the ticket events per unit, category or district over a time range,
and the post-call survey's answers per operator. Nothing walks tickets in Python, so a month of a
city's tickets is one query.

Every history row that names an event carries the unit the ticket was with and the deadline in
force once the change was made (columns `unit`, `due_at`, written with the row; migration 10
filled them for older rows from the history itself). A follow-up's answer is read from the
row's change of the survey (`survey` -> [old, new] -> followup)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

GROUPS = ("unit", "category", "district", "team")
COUNTED = ("dispatch", "redispatch", "return", "reply", "reopen", "followup")
GOOD = ("满意", "基本满意")


@dataclass(frozen=True)
class EventCounts:
    """One unit's (category's, district's) events in a range."""

    name: str  # "" when the tickets had none
    received: int  # dispatches and re-dispatches
    replied: int
    on_time: int  # replies by the deadline in force (or with none)
    returned: int
    reopened: int
    followups: int  # follow-up answers
    solved: int
    satisfied: int  # 满意 or 基本满意


def _json(dialect: str, path: tuple[str, ...]) -> str:
    if dialect == "sqlite":
        return (
            "json_extract(h.changes, '$" + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in path) + "')"
        )
    return "(h.changes::jsonb #>> '{" + ",".join(path) + "}')"


def event_counts_sql(group: str, dialect: str) -> str:
    """The query, with the range as its two parameters (`?` or `$1`, `$2`)."""
    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}")
    key = {
        "unit": "h.unit",
        "category": "t.category1",
        "district": "COALESCE(u.district, '')",
        "team": "COALESCE(tm.name, '')",  # the team (班组) of the operator who took the ticket
    }[group]
    solved = _json(dialect, ("survey", "1", "followup", "solved"))
    solved_true = f"{solved} = 1" if dialect == "sqlite" else f"{solved} = 'true'"
    satisfaction = _json(dialect, ("survey", "1", "followup", "satisfaction"))
    since, until = ("?", "?") if dialect == "sqlite" else ("$1", "$2")
    counted = ", ".join(f"'{e}'" for e in COUNTED)
    good = ", ".join(f"'{g}'" for g in GOOD)

    sums = ", ".join(
        f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"
        for condition in (
            "h.event IN ('dispatch', 'redispatch')",
            "h.event = 'reply'",
            "h.event = 'reply' AND (h.due_at = 0 OR h.at <= h.due_at)",
            "h.event = 'return'",
            "h.event = 'reopen'",
            "h.event = 'followup'",
            f"h.event = 'followup' AND {solved_true}",
            f"h.event = 'followup' AND {satisfaction} IN ({good})",
        )
    )
    joins = {
        "unit": "",
        "category": " JOIN tickets t ON t.id = h.ticket_id",
        "team": " JOIN tickets t ON t.id = h.ticket_id LEFT JOIN seats s ON s.id = t.operator"
        " LEFT JOIN teams tm ON tm.id = s.team",
    }
    join = joins.get(group, " LEFT JOIN units u ON u.name = h.unit")
    return (
        f"SELECT {key} AS name, {sums} FROM ticket_history h{join}"
        f" WHERE h.event IN ({counted}) AND h.at >= {since} AND h.at < {until} GROUP BY {key}"
    )


def survey_counts_sql(dialect: str) -> str:
    """Per operator and answer to the post-call survey's satisfaction question, for the tickets
    created in the range; a draft counts too (the survey follows the talk whether or not the
    operator had filed the ticket by then)."""
    if dialect == "sqlite":
        answer, since, until = "json_extract(survey, '$.satisfaction')", "?", "?"
    else:
        answer, since, until = "(survey::jsonb ->> 'satisfaction')", "$1", "$2"
    return (
        f"SELECT operator, {answer} AS answer, COUNT(*) FROM tickets"
        f" WHERE operator != '' AND created_at >= {since} AND created_at < {until}"
        f" AND {answer} IS NOT NULL AND {answer} != '' GROUP BY operator, {answer}"
    )


def counts_of(rows: Iterable[Sequence[Any]]) -> list[EventCounts]:
    return [EventCounts(str(r[0] or ""), *(int(x or 0) for x in r[1:])) for r in rows]
