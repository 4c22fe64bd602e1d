"""SQLite schema migrations: an ordered list of scripts; PRAGMA user_version records how many ran.

`ivr.store.pgschema` keeps the same tables and the same version numbers for PostgreSQL: a
migration added here is added there in the same change."""

from __future__ import annotations

import aiosqlite

MIGRATIONS: tuple[str, ...] = (
    # 1: tickets with full history, CDRs, the queue and seat event logs, the MQTT outbox
    """
    CREATE TABLE tickets (
        id TEXT PRIMARY KEY,
        caller TEXT NOT NULL,
        channel TEXT NOT NULL,
        call_id TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        category1 TEXT NOT NULL DEFAULT '',
        category2 TEXT NOT NULL DEFAULT '',
        category3 TEXT NOT NULL DEFAULT '',
        address TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        urgency TEXT NOT NULL DEFAULT 'normal',
        unit TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'draft',
        operator TEXT NOT NULL DEFAULT '',
        survey TEXT NOT NULL DEFAULT '{}',
        context TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX tickets_caller ON tickets (caller, created_at);
    CREATE TABLE ticket_history (
        id INTEGER PRIMARY KEY,
        ticket_id TEXT NOT NULL REFERENCES tickets (id),
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        changes TEXT NOT NULL
    );
    CREATE INDEX ticket_history_ticket ON ticket_history (ticket_id, id);
    CREATE TABLE calls (
        call_id TEXT PRIMARY KEY,
        caller TEXT NOT NULL,
        dialled TEXT NOT NULL DEFAULT '',
        started_at REAL NOT NULL,
        answered_at REAL,
        ended_at REAL,
        flow TEXT NOT NULL DEFAULT '',
        path TEXT NOT NULL DEFAULT '[]',
        outcome TEXT NOT NULL DEFAULT '',
        queue TEXT NOT NULL DEFAULT '',
        seat_id TEXT NOT NULL DEFAULT '',
        ticket_id TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX calls_caller ON calls (caller, started_at);
    CREATE TABLE queue_events (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        call_id TEXT NOT NULL,
        queue TEXT NOT NULL,
        kind TEXT NOT NULL,
        seat_id TEXT NOT NULL DEFAULT '',
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX queue_events_at ON queue_events (at);
    CREATE TABLE seat_events (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        seat_id TEXT NOT NULL,
        state TEXT NOT NULL,
        previous TEXT NOT NULL,
        duration REAL NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        call_id TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX seat_events_at ON seat_events (at);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        qos INTEGER NOT NULL DEFAULT 1,
        retain INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        delivered_at REAL
    );
    CREATE INDEX outbox_pending ON outbox (id) WHERE delivered_at IS NULL;
    """,
    # 2: nothing ever counted delivery attempts (the sender retries whole batches on reconnect)
    """
    ALTER TABLE outbox DROP COLUMN attempts;
    """,
    # 3: the console reads a seat's latest screen pop by topic
    """
    CREATE INDEX outbox_topic ON outbox (topic, id);
    """,
    # 4: console sessions, so a restart does not sign operators out (a hash of each token only)
    """
    CREATE TABLE console_sessions (
        token_hash TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        seat_id TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        last_seen REAL NOT NULL
    );
    CREATE INDEX console_sessions_seat ON console_sessions (seat_id);
    """,
    # 5: (PostgreSQL's shared-queue tables; one node keeps its queue in memory)
    "",
    # 6: the ticket's life after dispatch: deadline, the unit's reply, events with their notes
    # in the history, units and their staff (password hashes only), unit sessions
    """
    ALTER TABLE tickets ADD COLUMN due_at REAL NOT NULL DEFAULT 0;
    ALTER TABLE tickets ADD COLUMN reply TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE ticket_history ADD COLUMN event TEXT NOT NULL DEFAULT '';
    ALTER TABLE ticket_history ADD COLUMN note TEXT NOT NULL DEFAULT '';
    ALTER TABLE console_sessions ADD COLUMN unit_id TEXT NOT NULL DEFAULT '';
    CREATE INDEX tickets_unit ON tickets (unit, status);
    CREATE INDEX tickets_operator ON tickets (operator, created_at);
    CREATE INDEX tickets_created ON tickets (created_at);
    CREATE TABLE units (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        district TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE unit_staff (
        login TEXT PRIMARY KEY,
        unit_id TEXT NOT NULL REFERENCES units (id),
        name TEXT NOT NULL DEFAULT '',
        password_hash TEXT NOT NULL
    );
    """,
    # 7: follow-up (回访) tasks: the line's calls to citizens after a unit's reply
    """
    CREATE TABLE followups (
        id TEXT PRIMARY KEY,
        ticket_id TEXT NOT NULL REFERENCES tickets (id),
        caller TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'due',
        due_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_outcome TEXT NOT NULL DEFAULT '',
        answer TEXT NOT NULL DEFAULT '{}',
        operator TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX followups_state ON followups (state, due_at);
    CREATE INDEX followups_ticket ON followups (ticket_id);
    """,
    # 8: how far each outgoing webhook has delivered the ticket events (history row ids)
    """
    CREATE TABLE webhook_cursors (
        url TEXT PRIMARY KEY,
        last_id BIGINT NOT NULL DEFAULT 0,
        updated_at REAL NOT NULL DEFAULT 0
    );
    """,
    # 9: the knowledge base as supervisors edit it, every version kept
    """
    CREATE TABLE knowledge_versions (
        id INTEGER PRIMARY KEY,
        article INTEGER NOT NULL,
        version INTEGER NOT NULL,
        title TEXT NOT NULL,
        keywords TEXT NOT NULL DEFAULT '[]',
        answer TEXT NOT NULL,
        retired INTEGER NOT NULL DEFAULT 0,
        actor TEXT NOT NULL,
        at REAL NOT NULL,
        UNIQUE (article, version)
    );
    """,
    # 10: (the centre's leader lease lives in PostgreSQL only: one SQLite node always leads)
    "",
)


async def migrate(conn: aiosqlite.Connection) -> int:
    """Run the migrations not yet applied, each in its own transaction; returns the version."""
    async with conn.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    version = int(row[0]) if row else 0
    if version > len(MIGRATIONS):
        raise RuntimeError(f"database schema {version} is newer than this program ({len(MIGRATIONS)})")
    for number in range(version, len(MIGRATIONS)):
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[number].split(";"):
                if statement.strip():
                    await conn.execute(statement)
            await conn.execute(f"PRAGMA user_version = {number + 1}")
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)
