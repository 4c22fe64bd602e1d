"""PostgreSQL schema migrations: the tables of `ivr.store.schema`, with the same version numbers.

The version lives in table `schema_version` (SQLite's PRAGMA user_version). Several nodes may
start at once: the migrations run in one transaction under an advisory lock, so exactly one of
them migrates and the others see the result."""

from __future__ import annotations

import asyncpg

_LOCK = 0x12345  # pg_advisory_xact_lock key held while migrating

MIGRATIONS: tuple[str, ...] = (
    # 1: tickets with full history, CDRs, the queue and seat event logs, the MQTT outbox, and the
    # daily ticket numbers (in a table, not in memory: every node takes numbers from it)
    """
    CREATE TABLE tickets (
        id TEXT PRIMARY KEY,
        caller TEXT NOT NULL,
        channel TEXT NOT NULL,
        call_id TEXT NOT NULL DEFAULT '',
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
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
    CREATE TABLE ticket_days (
        day TEXT PRIMARY KEY,
        seq INTEGER NOT NULL
    );
    CREATE TABLE ticket_history (
        id BIGSERIAL PRIMARY KEY,
        ticket_id TEXT NOT NULL REFERENCES tickets (id),
        at DOUBLE PRECISION NOT NULL,
        actor TEXT NOT NULL,
        changes TEXT NOT NULL
    );
    CREATE INDEX ticket_history_ticket ON ticket_history (ticket_id, id);
    CREATE TABLE calls (
        call_id TEXT PRIMARY KEY,
        caller TEXT NOT NULL,
        dialled TEXT NOT NULL DEFAULT '',
        started_at DOUBLE PRECISION NOT NULL,
        answered_at DOUBLE PRECISION,
        ended_at DOUBLE PRECISION,
        flow TEXT NOT NULL DEFAULT '',
        path TEXT NOT NULL DEFAULT '[]',
        outcome TEXT NOT NULL DEFAULT '',
        queue TEXT NOT NULL DEFAULT '',
        seat_id TEXT NOT NULL DEFAULT '',
        ticket_id TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX calls_caller ON calls (caller, started_at);
    CREATE TABLE queue_events (
        id BIGSERIAL PRIMARY KEY,
        at DOUBLE PRECISION NOT NULL,
        call_id TEXT NOT NULL,
        queue TEXT NOT NULL,
        kind TEXT NOT NULL,
        seat_id TEXT NOT NULL DEFAULT '',
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX queue_events_at ON queue_events (at);
    CREATE TABLE seat_events (
        id BIGSERIAL PRIMARY KEY,
        at DOUBLE PRECISION NOT NULL,
        seat_id TEXT NOT NULL,
        state TEXT NOT NULL,
        previous TEXT NOT NULL,
        duration DOUBLE PRECISION NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        call_id TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX seat_events_at ON seat_events (at);
    CREATE TABLE outbox (
        id BIGSERIAL PRIMARY KEY,
        topic TEXT NOT NULL,
        payload BYTEA NOT NULL,
        qos INTEGER NOT NULL DEFAULT 1,
        retain INTEGER NOT NULL DEFAULT 0,
        created_at DOUBLE PRECISION NOT NULL,
        delivered_at DOUBLE PRECISION
    );
    CREATE INDEX outbox_pending ON outbox (id) WHERE delivered_at IS NULL;
    """,
    # 2: (SQLite dropped outbox.attempts; it never existed here)
    "",
    # 3: the console reads a seat's latest screen pop by topic
    """
    CREATE INDEX outbox_topic ON outbox (topic, id);
    """,
    # 4: console sessions, so a restart does not sign operators out and any node serves any
    """
    CREATE TABLE console_sessions (
        token_hash TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        seat_id TEXT NOT NULL DEFAULT '',
        created_at DOUBLE PRECISION NOT NULL,
        last_seen DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX console_sessions_seat ON console_sessions (seat_id);
    """,
    # 5: one queue for all nodes (agents/shared): waiting callers, seat states, node leases and
    # round-robin pointers; `ord` is the service order within a priority band (a sequence, so
    # arrivals on different nodes interleave by time; a front re-queue takes its negative)
    """
    CREATE SEQUENCE queue_order;
    CREATE TABLE queue_entries (
        call_id TEXT PRIMARY KEY,
        queue TEXT NOT NULL,
        priority INTEGER NOT NULL,
        weight INTEGER NOT NULL,
        ord BIGINT NOT NULL,
        skills TEXT NOT NULL DEFAULT '{}',
        context TEXT NOT NULL DEFAULT '{}',
        entered_at DOUBLE PRECISION NOT NULL,
        state TEXT NOT NULL,
        node TEXT NOT NULL,
        seat_id TEXT NOT NULL DEFAULT '',
        callback BOOLEAN NOT NULL DEFAULT FALSE,
        attempts INTEGER NOT NULL DEFAULT 0,
        declined TEXT[] NOT NULL DEFAULT '{}',
        ticket_id TEXT NOT NULL DEFAULT '',
        connected_at DOUBLE PRECISION NOT NULL DEFAULT 0,
        offered_at DOUBLE PRECISION NOT NULL DEFAULT 0
    );
    CREATE INDEX queue_entries_order ON queue_entries (priority DESC, weight DESC, ord)
        WHERE state = 'waiting';
    CREATE INDEX queue_entries_node ON queue_entries (node);
    CREATE TABLE queue_seats (
        seat_id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        since DOUBLE PRECISION NOT NULL DEFAULT 0,
        idle_since DOUBLE PRECISION NOT NULL DEFAULT 0,
        calls INTEGER NOT NULL DEFAULT 0,
        talk_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
        misses INTEGER NOT NULL DEFAULT 0,
        call_id TEXT NOT NULL DEFAULT '',
        pending_state TEXT NOT NULL DEFAULT '',
        pending_reason TEXT NOT NULL DEFAULT '',
        wrapup_until DOUBLE PRECISION NOT NULL DEFAULT 0
    );
    CREATE INDEX queue_seats_ready ON queue_seats (seat_id) WHERE state = 'ready';
    -- every node keeps a copy of the seats for its consoles: each committed change is announced
    CREATE FUNCTION queue_seats_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('hotline_seats', row_to_json(NEW)::text);
        RETURN NEW;
    END $$;
    CREATE TRIGGER queue_seats_notify AFTER INSERT OR UPDATE ON queue_seats
        FOR EACH ROW EXECUTE FUNCTION queue_seats_changed();
    -- and a light copy of the callers (for status without a round trip): each change announced
    CREATE FUNCTION queue_entries_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            PERFORM pg_notify('hotline_entries', json_build_object('call_id', OLD.call_id)::text);
            RETURN OLD;
        END IF;
        PERFORM pg_notify('hotline_entries', json_build_object('call_id', NEW.call_id,
            'queue', NEW.queue, 'state', NEW.state, 'entered_at', NEW.entered_at)::text);
        RETURN NEW;
    END $$;
    CREATE TRIGGER queue_entries_notify AFTER INSERT OR UPDATE OR DELETE ON queue_entries
        FOR EACH ROW EXECUTE FUNCTION queue_entries_changed();
    CREATE TABLE queue_nodes (
        node TEXT PRIMARY KEY,
        lease_until DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE queue_rr (
        queue TEXT PRIMARY KEY,
        last_order INTEGER NOT NULL
    );
    """,
    # 6: the ticket's life after dispatch: deadline, the unit's reply, events with their notes
    # in the history, units and their staff (password hashes only), unit sessions
    """
    ALTER TABLE tickets ADD COLUMN due_at DOUBLE PRECISION NOT NULL DEFAULT 0;
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
        due_at DOUBLE PRECISION NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_outcome TEXT NOT NULL DEFAULT '',
        answer TEXT NOT NULL DEFAULT '{}',
        operator TEXT NOT NULL DEFAULT '',
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX followups_state ON followups (state, due_at);
    CREATE INDEX followups_ticket ON followups (ticket_id);
    """,
    # 8: how far each outgoing webhook has delivered the ticket events (history row ids)
    """
    CREATE TABLE webhook_cursors (
        url TEXT PRIMARY KEY,
        last_id BIGINT NOT NULL DEFAULT 0,
        updated_at DOUBLE PRECISION NOT NULL DEFAULT 0
    );
    """,
    # 9: the knowledge base as supervisors edit it, every version kept
    """
    CREATE TABLE knowledge_versions (
        id BIGSERIAL PRIMARY KEY,
        article INTEGER NOT NULL,
        version INTEGER NOT NULL,
        title TEXT NOT NULL,
        keywords TEXT NOT NULL DEFAULT '[]',
        answer TEXT NOT NULL,
        retired INTEGER NOT NULL DEFAULT 0,
        actor TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        UNIQUE (article, version)
    );
    """,
    # 10: quality checks (质检): the review queue (a call once), every review kept, one appeal a call
    """
    CREATE TABLE qa_samples (
        call_id TEXT PRIMARY KEY,
        seat_id TEXT NOT NULL,
        ticket_id TEXT NOT NULL DEFAULT '',
        ended_at DOUBLE PRECISION NOT NULL,
        reasons TEXT NOT NULL DEFAULT '[]',
        sampled_at DOUBLE PRECISION NOT NULL,
        state TEXT NOT NULL DEFAULT 'queued'
    );
    CREATE INDEX qa_samples_state ON qa_samples (state, ended_at);
    CREATE TABLE qa_reviews (
        id BIGSERIAL PRIMARY KEY,
        call_id TEXT NOT NULL,
        seat_id TEXT NOT NULL,
        ticket_id TEXT NOT NULL DEFAULT '',
        reviewer TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        ended_at DOUBLE PRECISION NOT NULL,
        score DOUBLE PRECISION NOT NULL,
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
        at DOUBLE PRECISION NOT NULL,
        decision TEXT NOT NULL DEFAULT '',
        decided_by TEXT NOT NULL DEFAULT '',
        decided_at DOUBLE PRECISION NOT NULL DEFAULT 0,
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX qa_appeals_decision ON qa_appeals (decision, at);
    """,
    # 11: each event row keeps the unit the ticket was with and the deadline in force, so the
    # after-call figures are one GROUP BY (ivr/store/figures.py); older rows filled from the history
    """
    ALTER TABLE ticket_history ADD COLUMN unit TEXT NOT NULL DEFAULT '';
    ALTER TABLE ticket_history ADD COLUMN due_at DOUBLE PRECISION NOT NULL DEFAULT 0;
    UPDATE ticket_history t SET
        unit = COALESCE((SELECT p.changes::jsonb -> 'unit' ->> 1 FROM ticket_history p
            WHERE p.ticket_id = t.ticket_id AND p.id <= t.id AND p.changes::jsonb ? 'unit'
            ORDER BY p.id DESC LIMIT 1), ''),
        due_at = COALESCE((SELECT (p.changes::jsonb -> 'due_at' ->> 1)::float8 FROM ticket_history p
            WHERE p.ticket_id = t.ticket_id AND p.id <= t.id AND p.changes::jsonb ? 'due_at'
            ORDER BY p.id DESC LIMIT 1), 0)
        WHERE t.event != '';
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
        wrapup_seconds DOUBLE PRECISION,
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
        last_failure DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE audit_log (
        id BIGSERIAL PRIMARY KEY,
        at DOUBLE PRECISION NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL DEFAULT '',
        address TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX audit_log_at ON audit_log (at);
    CREATE INDEX audit_log_actor ON audit_log (actor, at);
    ALTER TABLE tickets ADD COLUMN forgotten_at DOUBLE PRECISION NOT NULL DEFAULT 0;
    """,
    # 15: the centre's leader lease (agents/shared/leader.py): one row, the node that runs the
    # centre-wide jobs and until when (the database's clock)
    """
    CREATE TABLE centre_leader (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        node TEXT NOT NULL,
        lease_until DOUBLE PRECISION NOT NULL,
        since DOUBLE PRECISION NOT NULL
    );
    """,
)


async def migrate(conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy) -> int:
    """Run the migrations not yet applied; returns the version. Raises RuntimeError when the
    database was migrated by a newer program."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK)
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        version = await conn.fetchval("SELECT version FROM schema_version")
        if version is None:
            await conn.execute("INSERT INTO schema_version (version) VALUES (0)")
            version = 0
        if version > len(MIGRATIONS):
            raise RuntimeError(f"database schema {version} is newer than this program ({len(MIGRATIONS)})")
        for number in range(version, len(MIGRATIONS)):
            if MIGRATIONS[number].strip():
                await conn.execute(MIGRATIONS[number])
        await conn.execute("UPDATE schema_version SET version = $1", len(MIGRATIONS))
    return len(MIGRATIONS)
