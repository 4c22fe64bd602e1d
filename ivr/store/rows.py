"""How records map to table rows, and the ticket rules both stores apply before writing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ivr.records import EDITABLE, JSON_FIELDS, STATUSES, URGENCIES, Ticket, TicketChange
from ivr.store.base import StoreError

TICKET_COLUMNS = tuple(Ticket.__dataclass_fields__)
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


def changed_ticket(old: Ticket, changes: Mapping[str, Any], now: float) -> tuple[Ticket, Changes]:
    """The ticket after `changes` and what really changed (empty: nothing to write)."""
    diff = {k: (getattr(old, k), v) for k, v in changes.items() if getattr(old, k) != v}
    if not diff:
        return old, diff
    return replace(old, updated_at=now, **{k: v for k, (_, v) in diff.items()}), diff


def changes_json(changes: Changes) -> str:
    return json.dumps(changes, ensure_ascii=False)


def change_from_row(row: Any) -> TicketChange:
    return TicketChange(row[0], row[1], row[2], {k: (v[0], v[1]) for k, v in json.loads(row[3]).items()})


def ticket_day_sequence(ticket_id: str) -> tuple[str, int] | None:
    """("20240601", 123) for "20240601000123"; None for ids not made by the store."""
    if len(ticket_id) == 14 and ticket_id.isdigit():
        return ticket_id[:8], int(ticket_id[8:])
    return None


def format_ticket_id(day: str, seq: int) -> str:
    """Readable over the phone: local date and a daily sequence, e.g. 20240601000123."""
    return f"{day}{seq:06d}"
