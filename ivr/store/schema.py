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
    # 10: quality checks (质检): the review queue (a call once), every review kept, one appeal a call
    """
    CREATE TABLE qa_samples (
        call_id TEXT PRIMARY KEY,
        seat_id TEXT NOT NULL,
        ticket_id TEXT NOT NULL DEFAULT '',
        ended_at REAL NOT NULL,
        reasons TEXT NOT NULL DEFAULT '[]',
        sampled_at REAL NOT NULL,
        state TEXT NOT NULL DEFAULT 'queued'
    );
    CREATE INDEX qa_samples_state ON qa_samples (state, ended_at);
    CREATE TABLE qa_reviews (
        id INTEGER PRIMARY KEY,
        call_id TEXT NOT NULL,
        seat_id TEXT NOT NULL,
        ticket_id TEXT NOT NULL DEFAULT '',
        reviewer TEXT NOT NULL,
        at REAL NOT NULL,
        ended_at REAL NOT NULL,
        score REAL NOT NULL,
        marks TEXT NOT NULL DEFAULT '{}',
        fatal TEXT NOT NULL DEFAULT '[]',
        fatal_count INTEGER NOT NULL DEFAULT 0,
        comment TEXT NOT NULL DEFAULT '',
        checklist TEXT NOT NULL DEFAULT '',
        after_appeal INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX qa_reviews_call ON qa_reviews (call_id, id);
    CREATE INDEX qa_reviews_seat ON qa_reviews (seat_id, ended_at);
    CREATE TABLE qa_appeals (
        call_id TEXT PRIMARY KEY,
        seat_id TEXT NOT NULL,
        review_id BIGINT NOT NULL,
        reason TEXT NOT NULL,
        at REAL NOT NULL,
        decision TEXT NOT NULL DEFAULT '',
        decided_by TEXT NOT NULL DEFAULT '',
        decided_at REAL NOT NULL DEFAULT 0,
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX qa_appeals_decision ON qa_appeals (decision, at);
    """,
    # 11: each event row keeps the unit the ticket was with and the deadline in force, so the
    # after-call figures are one GROUP BY (ivr/store/figures.py); older rows filled from the history
    """
    ALTER TABLE ticket_history ADD COLUMN unit TEXT NOT NULL DEFAULT '';
    ALTER TABLE ticket_history ADD COLUMN due_at REAL NOT NULL DEFAULT 0;
    UPDATE ticket_history SET
        unit = COALESCE((SELECT json_extract(p.changes, '$.unit[1]') FROM ticket_history p
            WHERE p.ticket_id = ticket_history.ticket_id AND p.id <= ticket_history.id
            AND json_type(p.changes, '$.unit') IS NOT NULL ORDER BY p.id DESC LIMIT 1), ''),
        due_at = COALESCE((SELECT json_extract(p.changes, '$.due_at[1]') FROM ticket_history p
            WHERE p.ticket_id = ticket_history.ticket_id AND p.id <= ticket_history.id
            AND json_type(p.changes, '$.due_at') IS NOT NULL ORDER BY p.id DESC LIMIT 1), 0)
        WHERE event != '';
    CREATE INDEX ticket_history_at ON ticket_history (at);
    """,
    # 12: the centre's roster: teams with their leader, seats with team, shift and skills
    """
    CREATE TABLE teams (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        leader TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE seats (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        uri TEXT NOT NULL,
        team TEXT NOT NULL DEFAULT '',
        shift TEXT NOT NULL DEFAULT '',
        skills TEXT NOT NULL DEFAULT '{}',
        queues TEXT NOT NULL DEFAULT '[]',
        password_hash TEXT NOT NULL DEFAULT '',
        wrapup_seconds REAL,
        source TEXT NOT NULL DEFAULT 'store'
    );
    CREATE INDEX seats_team ON seats (team);
    """,
    # 13: crash recovery: the line (node) that holds a call, the call's QA recording, open calls
    """
    ALTER TABLE calls ADD COLUMN node TEXT NOT NULL DEFAULT '';
    ALTER TABLE calls ADD COLUMN recording TEXT NOT NULL DEFAULT '';
    CREATE INDEX calls_open ON calls (node) WHERE ended_at IS NULL;
    CREATE INDEX queue_events_call ON queue_events (call_id);
    """,
    # 14: sign-in guard and the audit trail: the person behind each console session (one
    # supervisor session per person), failed sign-ins per account and per address (lockout
    # across nodes), who read, exported or deleted what (append-only), tickets whose personal
    # fields the retention policy has blanked
    """
    ALTER TABLE console_sessions ADD COLUMN login TEXT NOT NULL DEFAULT '';
    CREATE TABLE signin_failures (
        key TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        last_failure REAL NOT NULL
    );
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL DEFAULT '',
        address TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX audit_log_at ON audit_log (at);
    CREATE INDEX audit_log_actor ON audit_log (actor, at);
    ALTER TABLE tickets ADD COLUMN forgotten_at REAL NOT NULL DEFAULT 0;
    """,
    # 15: (the centre's leader lease lives in PostgreSQL only: one SQLite node always leads)
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
