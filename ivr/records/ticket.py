"""A ticket (工单) and one change to it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ivr.records.call import URGENCIES as URGENCIES  # a ticket's urgency is its call's

# The life of a ticket: an operator files it (open) and dispatches it (派单) to a unit, which
# accepts it or returns it (退单) to the centre's dispatch desk; the unit's reply (办结反馈)
# makes a follow-up (回访) due; the citizen's answer closes it or reopens it to the unit (重办).
STATUSES = ("draft", "open", "dispatched", "accepted", "returned", "replied", "reopened", "closed")
# who may move a ticket from a status, and where to: the store checks only membership in
# STATUSES, the ticket's life (agents.tickets.lifecycle) checks these
TRANSITIONS: Mapping[str, tuple[str, ...]] = {
    "draft": ("open", "dispatched", "closed"),
    "open": ("dispatched", "closed"),
    "dispatched": ("accepted", "returned", "replied"),
    "accepted": ("returned", "replied"),
    "returned": ("dispatched", "closed"),
    "replied": ("closed", "reopened"),
    "reopened": ("accepted", "returned", "replied"),
    "closed": (),
}
AT_UNIT = ("dispatched", "accepted", "reopened")  # a unit's inbox: tickets it must handle
# What happened, beyond field changes, as a history entry names it
EVENTS = (
    "dispatch",
    "accept",
    "return",
    "note",
    "reply",
    "redispatch",
    "close",
    "reopen",
    "followup",
    "remind",
    "supervise",  # a team leader barged in or took the call over (who and how in the note)
    "transfer",  # the call (and the ticket) went to another seat; note says how and to whom
    "call",  # an operator's call control: hold, three-way, an outbound call; note says which
)
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
    "due_at",
    "reply",
)
JSON_FIELDS = ("survey", "context", "reply")


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
    due_at: float = 0.0  # the unit's deadline (epoch seconds); 0 while not dispatched
    reply: Mapping[str, Any] = field(default_factory=dict)  # the unit's 办结反馈: done, result

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
    event: str = ""  # one of EVENTS, or "" for a plain edit
    note: str = ""  # the words that came with the event: a return reason, a progress note


@dataclass(frozen=True)
class TicketQuery:
    """A ticket search: every given criterion must hold; empty strings and zeros match all."""

    number: str = ""  # ticket id, or its start
    caller: str = ""
    operator: str = ""
    unit: str = ""
    category: str = ""  # any level equal to it
    status: str = ""
    since: float = 0.0  # created at or after
    until: float = 0.0  # created before
    limit: int = 50
    due_first: bool = False  # earliest deadline first (none last), not newest first: an inbox
