"""A ticket (工单) and one change to it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ivr.records.call import URGENCIES as URGENCIES  # a ticket's urgency is its call's

STATUSES = ("draft", "open", "dispatched", "closed")
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


@dataclass(frozen=True)
class TicketChange:
    ticket_id: str
    at: float
    actor: str  # "ivr", "seat:1001", "api:..."
    changes: Mapping[str, tuple[Any, Any]]  # field -> (old, new); creation has old None
