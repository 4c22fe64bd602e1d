"""The records every part of the line speaks, as pipecat's frames are for its processors.

A call's context is built once by the flow and reaches the queue, the screen pop, the ticket
and MQTT unchanged; queue and seat events are what the queue emits and the store keeps.
This package imports nothing of the project, so `ivr` and `agents` both depend on it and it
on neither.
"""

from ivr.records.call import (
    URGENCIES,
    CallContext,
    CallRecord,
    Offer,
    QueueOutcome,
    QueueRequest,
    QueueResult,
    RingOutcome,
    Understanding,
    Urgency,
    category_path,
    urgency_for,
)
from ivr.records.events import TERMINAL, EventSink, QueueEvent, QueueEventKind, SeatEvent, SeatState
from ivr.records.followup import FOLLOWUP_STATES, Followup, OutboundResult
from ivr.records.knowledge import KnowledgeVersion
from ivr.records.roster import SHIFTS, SeatRow, Team
from ivr.records.ticket import (
    AT_UNIT,
    EDITABLE,
    EVENTS,
    JSON_FIELDS,
    STATUSES,
    TRANSITIONS,
    Ticket,
    TicketChange,
    TicketQuery,
)
from ivr.records.unit import UNIT_KINDS, Unit, UnitStaff

__all__ = [
    "AT_UNIT",
    "EDITABLE",
    "EVENTS",
    "FOLLOWUP_STATES",
    "JSON_FIELDS",
    "SHIFTS",
    "STATUSES",
    "TERMINAL",
    "TRANSITIONS",
    "UNIT_KINDS",
    "URGENCIES",
    "CallContext",
    "CallRecord",
    "EventSink",
    "Followup",
    "KnowledgeVersion",
    "Offer",
    "OutboundResult",
    "QueueEvent",
    "QueueEventKind",
    "QueueOutcome",
    "QueueRequest",
    "QueueResult",
    "RingOutcome",
    "SeatEvent",
    "SeatRow",
    "SeatState",
    "Team",
    "Ticket",
    "TicketChange",
    "TicketQuery",
    "Understanding",
    "Unit",
    "UnitStaff",
    "Urgency",
    "category_path",
    "urgency_for",
]
