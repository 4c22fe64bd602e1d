"""aiosqlite store: tickets with history, calls (CDR), queue and seat events, MQTT outbox.

The records it keeps are `ivr.records`; this package is how they are kept."""

from ivr.store.database import Store, outbox_statement
from ivr.store.rows import OutboxItem, StoreError

__all__ = ["OutboxItem", "Store", "StoreError", "outbox_statement"]
