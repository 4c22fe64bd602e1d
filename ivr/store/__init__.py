"""How records are kept: tickets with history, calls (CDR), queue and seat events, MQTT outbox.

The records it keeps are `ivr.records`; this package is how they are kept. Callers type against
the `Store` protocol and open one with `open_store`: a path is an embedded SQLite file (the
default), a `postgresql://` URL a PostgreSQL database that several nodes can share."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ivr.store.base import (
    SESSION_IDLE_SECONDS,
    Also,
    AuditBook,
    AuditEntry,
    AuditQuery,
    FailureCount,
    FollowupBook,
    KnowledgeBook,
    OutboxItem,
    Outgoing,
    RosterBook,
    SessionBook,
    SessionRecord,
    SigninBook,
    Store,
    StoreError,
    TicketBook,
    TicketTally,
    UnitBook,
    check_store_url,
    is_store_url,
    redact_store_url,
)
from ivr.store.base import ReviewBook as ReviewBook
from ivr.store.figures import EventCounts
from ivr.store.sqlite import SqliteStore

__all__ = [
    "SESSION_IDLE_SECONDS",
    "Also",
    "AuditBook",
    "AuditEntry",
    "AuditQuery",
    "EventCounts",
    "FailureCount",
    "FollowupBook",
    "KnowledgeBook",
    "OutboxItem",
    "Outgoing",
    "ReviewBook",
    "RosterBook",
    "SessionBook",
    "SessionRecord",
    "SigninBook",
    "SqliteStore",
    "Store",
    "StoreError",
    "TicketBook",
    "TicketTally",
    "UnitBook",
    "check_store_url",
    "is_store_url",
    "open_store",
    "redact_store_url",
]


async def open_store(
    where: str | Path,
    *,
    batch_max: int = 500,
    now: Callable[[], float] = time.time,
    spool: Path | None = None,
) -> Store:
    """Open the store at a SQLite file path or a `postgresql://` URL (migrating its schema).
    Raises StoreError for a malformed URL or an unreachable database. `spool`: for a URL, the
    local file that keeps writes through a database outage."""
    if isinstance(where, str) and is_store_url(where):
        from ivr.store.postgres import PgStore  # asyncpg is loaded only by centres that use it

        return await PgStore.open(where, batch_max=batch_max, now=now, spool=spool)
    return await SqliteStore.open(where, batch_max=batch_max, now=now)
