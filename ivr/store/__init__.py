"""aiosqlite store: tickets with history, calls (CDR), queue and seat events, MQTT outbox."""

from ivr.store.database import Store, outbox_statement
from ivr.store.records import STATUSES, URGENCIES, CallRecord, OutboxItem, StoreError, Ticket, TicketChange

__all__ = [
    "STATUSES",
    "URGENCIES",
    "CallRecord",
    "OutboxItem",
    "Store",
    "StoreError",
    "Ticket",
    "TicketChange",
    "outbox_statement",
]
