"""How records map to table rows, and the ticket rules both stores apply before writing."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from ivr.records import EDITABLE, EVENTS, JSON_FIELDS, STATUSES, URGENCIES, Ticket, TicketChange, TicketQuery
from ivr.store.base import StoreError

TICKET_COLUMNS = tuple(Ticket.__dataclass_fields__)
HISTORY_COLUMNS = "ticket_id, at, actor, changes, event, note"
# written with each row: the unit the ticket is with and its deadline, after the change
HISTORY_WRITTEN = f"{HISTORY_COLUMNS}, unit, due_at"
SEARCH_LIMIT = 500  # one page of search results at most
Changes = Mapping[str, tuple[Any, Any]]


def ticket_from_row(row: Any) -> Ticket:
    values = dict(zip(TICKET_COLUMNS, row, strict=True))
    for name in JSON_FIELDS:
        values[name] = json.loads(values[name])
    return Ticket(**values)


def column_value(name: str, value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if name in JSON_FIELDS else value


def ticket_params(t: Ticket) -> tuple[Any, ...]:
    return tuple(column_value(n, getattr(t, n)) for n in TICKET_COLUMNS)


def check_fields(values: Mapping[str, Any]) -> None:
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise StoreError(f"ticket fields not editable: {', '.join(sorted(unknown))}")
    if "status" in values and values["status"] not in STATUSES:
        raise StoreError(f"ticket status must be one of {STATUSES}")
    if "urgency" in values and values["urgency"] not in URGENCIES:
        raise StoreError(f"ticket urgency must be one of {URGENCIES}")


def new_ticket(
    ticket_id: str, caller: str, channel: str, now: float, values: Mapping[str, Any]
) -> tuple[Ticket, Changes]:
    """A ticket to insert and its creation entry for the history (the fields given)."""
    check_fields(values)
    ticket = Ticket(id=ticket_id, caller=caller, channel=channel, created_at=now, updated_at=now)
    ticket = replace(ticket, **values)
    created = {k: (None, v) for k, v in ticket.as_dict().items() if k in EDITABLE and v not in ("", {}, None)}
    return ticket, created


def changed_ticket(
    old: Ticket, changes: Mapping[str, Any], now: float, *, touched: bool = False
) -> tuple[Ticket, Changes]:
    """The ticket after `changes` and what really changed (empty: nothing to write unless the
    change is an event, `touched`, which moves `updated_at` all the same)."""
    diff = {k: (getattr(old, k), v) for k, v in changes.items() if getattr(old, k) != v}
    if not diff and not touched:
        return old, diff
    return replace(old, updated_at=now, **{k: v for k, (_, v) in diff.items()}), diff


def changes_json(changes: Changes) -> str:
    return json.dumps(changes, ensure_ascii=False)


def check_event(event: str) -> None:
    if event and event not in EVENTS:
        raise StoreError(f"ticket event must be one of {EVENTS}")


def change_from_row(row: Any) -> TicketChange:
    changes = {k: (v[0], v[1]) for k, v in json.loads(row[3]).items()}
    return TicketChange(row[0], row[1], row[2], changes, row[4], row[5])


def search_where(q: TicketQuery, mark: Callable[[int], str]) -> tuple[str, list[Any]]:
    """The WHERE ... ORDER BY ... LIMIT of a search with its parameters; `mark(n)` is the n-th
    placeholder of the database (`?` or `$n`). Drafts of abandoned calls are never found."""
    terms: list[str] = ["status != 'draft'"]
    args: list[Any] = []

    def add(sql: str, value: Any) -> None:
        args.append(value)
        terms.append(sql.replace("%", mark(len(args))))

    if q.number:
        add(f"substr(id, 1, {len(q.number)}) = %", q.number)  # a number's start: no wildcards
    for name in ("caller", "operator", "unit", "status"):
        if getattr(q, name):
            add(f"{name} = %", getattr(q, name))
    if q.category:
        args.append(q.category)
        m = mark(len(args))
        terms.append(f"(category1 = {m} OR category2 = {m} OR category3 = {m})")
    if q.since:
        add("created_at >= %", q.since)
    if q.until:
        add("created_at < %", q.until)
    args.append(max(1, min(q.limit, SEARCH_LIMIT)))
    order = "(due_at = 0), due_at, id" if q.due_first else "created_at DESC"
    return f" WHERE {' AND '.join(terms)} ORDER BY {order} LIMIT {mark(len(args))}", args


def ticket_day_sequence(ticket_id: str) -> tuple[str, int] | None:
    """("20240601", 123) for "20240601000123"; None for ids not made by the store."""
    if len(ticket_id) == 14 and ticket_id.isdigit():
        return ticket_id[:8], int(ticket_id[8:])
    return None


def format_ticket_id(day: str, seq: int) -> str:
    """Readable over the phone: local date and a daily sequence, e.g. 20240601000123."""
    return f"{day}{seq:06d}"
