"""What the store keeps, as plain frozen records."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

STATUSES = ("draft", "open", "dispatched", "closed")
URGENCIES = ("normal", "urgent", "critical")
# Fields an operator (or the flow) may change; id, caller and timestamps are the store's.
EDITABLE = (
    "category1",
    "category2",
    "category3",
    "address",
    "description",
    "urgency",
    "unit",
    "status",
    "operator",
    "survey",
    "context",
    "call_id",
)
JSON_FIELDS = ("survey", "context")


class StoreError(ValueError):
    """A request the store refuses (unknown ticket, field or status)."""


@dataclass(frozen=True)
class Ticket:
    id: str
    caller: str
    channel: str
    created_at: float
    updated_at: float
    call_id: str = ""
    category1: str = ""
    category2: str = ""
    category3: str = ""
    address: str = ""
    description: str = ""
    urgency: str = "normal"
    unit: str = ""  # responsible unit the ticket is dispatched to (派单)
    status: str = "draft"
    operator: str = ""
    survey: Mapping[str, Any] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)  # flow path, choices, transcript

    @property
    def category(self) -> tuple[str, str, str]:
        return (self.category1, self.category2, self.category3)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


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
class TicketChange:
    ticket_id: str
    at: float
    actor: str  # "ivr", "seat:1001", "api:..."
    changes: Mapping[str, tuple[Any, Any]]  # field -> (old, new); creation has old None


@dataclass(frozen=True)
class CallRecord:
    """One CDR row; saved (upserted) as the call progresses."""

    call_id: str
    caller: str
    started_at: float
    dialled: str = ""
    answered_at: float | None = None
    ended_at: float | None = None
    flow: str = ""
    path: tuple[str, ...] = ()
    outcome: str = ""
    queue: str = ""
    seat_id: str = ""
    ticket_id: str = ""


@dataclass(frozen=True)
class OutboxItem:
    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    created_at: float
    attempts: int
