"""How records map to table rows, and what only the store has: the outbox row and its error."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ivr.records import JSON_FIELDS, Ticket


class StoreError(ValueError):
    """A request the store refuses (unknown ticket, field or status)."""


TICKET_COLUMNS = tuple(Ticket.__dataclass_fields__)


def ticket_from_row(row: Any) -> Ticket:
    values = dict(zip(TICKET_COLUMNS, row, strict=True))
    for name in JSON_FIELDS:
        values[name] = json.loads(values[name])
    return Ticket(**values)


def ticket_params(t: Ticket) -> tuple[Any, ...]:
    return tuple(
        json.dumps(getattr(t, n), ensure_ascii=False) if n in JSON_FIELDS else getattr(t, n)
        for n in TICKET_COLUMNS
    )


@dataclass(frozen=True)
class OutboxItem:
    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    created_at: float
