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
from ivr.records.review import (
    APPEAL_DECISIONS,
    SAMPLE_REASONS,
    AnsweredCall,
    Appeal,
    Checklist,
    ChecklistItem,
    FatalError,
    Review,
    Sample,
    SampleReason,
    ScoreError,
    SeatFigures,
)
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
    "APPEAL_DECISIONS",
    "AT_UNIT",
    "EDITABLE",
    "EVENTS",
    "FOLLOWUP_STATES",
    "JSON_FIELDS",
    "SAMPLE_REASONS",
    "SHIFTS",
    "STATUSES",
    "TERMINAL",
    "TRANSITIONS",
    "UNIT_KINDS",
    "URGENCIES",
    "AnsweredCall",
    "Appeal",
    "CallContext",
    "CallRecord",
    "Checklist",
    "ChecklistItem",
    "EventSink",
    "FatalError",
    "Followup",
    "KnowledgeVersion",
    "Offer",
    "OutboundResult",
    "QueueEvent",
    "QueueEventKind",
    "QueueOutcome",
    "QueueRequest",
    "QueueResult",
    "Review",
    "RingOutcome",
    "Sample",
    "SampleReason",
    "ScoreError",
    "SeatEvent",
    "SeatFigures",
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
