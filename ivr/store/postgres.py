"""The shared store: PostgreSQL (asyncpg) behind the same `Store` protocol as SQLite, so several
nodes of one centre keep one set of tickets, events, CDRs, outbox and console sessions.

Writes go through the same batching writer as SQLite (one transaction per batch, taken from a
small pool). The outbox wakes every node: a unit that writes outbox rows also sends
`NOTIFY hotline_outbox`, delivered at commit to each store's listening connection, which calls
the `outbox_listeners` (local writes call them at once as well). One node at a time delivers
the outbox: the one whose listening connection holds a session advisory lock, so messages go out
once and in id order; when that node stops or dies its connection closes, the lock with it, and
the next node woken by a write takes over."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import asyncpg

from ivr.records import CallRecord, QueueEvent, QueueEventKind, SeatEvent, SeatState
from ivr.store.audit import StoreAuditBook
from ivr.store.base import OutboxItem, Outgoing, StoreError, check_store_url, redact_store_url
from ivr.store.dialect import Reader
from ivr.store.followups import PgFollowupBook
from ivr.store.knowledge import PgKnowledgeBook
from ivr.store.pgschema import migrate
from ivr.store.pgtickets import PgTicketBook
from ivr.store.retention import StorePersonalData
from ivr.store.reviews import PgReviewBook
from ivr.store.roster import PgRosterBook
from ivr.store.sessions import PgSessionBook
from ivr.store.signins import StoreSigninBook
from ivr.store.spool import Spool
from ivr.store.units import PgUnitBook
from ivr.store.writer import BatchWriter, Statement

log = logging.getLogger(__name__)

CHANNEL = "hotline_outbox"
_SENDER_LOCK = 0x12346  # pg_try_advisory_lock key of the node that delivers the outbox
_NOTIFY = f"NOTIFY {CHANNEL}"
_OUTBOX = "INSERT INTO outbox (topic, payload, qos, retain, created_at) VALUES ($1, $2, $3, $4, $5)"
_OUTBOX_COLUMNS = "id, topic, payload, qos, retain, created_at"
_QEVENT = "INSERT INTO queue_events (at, call_id, queue, kind, seat_id, data) VALUES ($1, $2, $3, $4, $5, $6)"
_SEAT_COLUMNS = "at, seat_id, state, previous, duration, reason, call_id"
_SEVENT = f"INSERT INTO seat_events ({_SEAT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
_CALL_COLUMNS = tuple(CallRecord.__dataclass_fields__)
_CALL = "INSERT INTO calls ({}) VALUES ({}) ON CONFLICT (call_id) DO UPDATE SET {}".format(
    ", ".join(_CALL_COLUMNS),
    ", ".join(f"${i + 1}" for i in range(len(_CALL_COLUMNS))),
    ", ".join(f"{c} = EXCLUDED.{c}" for c in _CALL_COLUMNS[1:]),
)
_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
# the database could not be reached (as opposed to refusing a statement)
_OUTAGE = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
)


def is_outage(exc: BaseException) -> bool:
    return isinstance(exc, _OUTAGE)


def _call_record(row: Any) -> CallRecord:
    values = dict(zip(_CALL_COLUMNS, row, strict=True))
    values["path"] = tuple(json.loads(values["path"]))
    return CallRecord(**values)


async def probe(url: str, timeout: float = 5.0) -> str:
    """The server's version, without touching the schema (for `ivr doctor`); StoreError if the
    database cannot be reached."""
    check_store_url(url)
    try:
        conn = await asyncpg.connect(url, timeout=timeout)
    except _ERRORS as exc:
        raise StoreError(f"PostgreSQL store {redact_store_url(url)} not reachable: {exc}") from exc
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def outbox_rows(messages: Sequence[Outgoing], at: float) -> list[Statement]:
    rows: list[Statement] = [(_OUTBOX, (m.topic, m.payload, m.qos, int(m.retain), at)) for m in messages]
    return [*rows, (_NOTIFY, ())] if rows else rows


def _outbox_item(r: Any) -> OutboxItem:
    return OutboxItem(r[0], r[1], bytes(r[2]), r[3], bool(r[4]), r[5])


class PgStore:
    """Open with `await PgStore.open(url)`; close with `await store.close()` (flushes)."""

    def __init__(
        self,
        url: str,
        pool: asyncpg.Pool,
        listener: asyncpg.Connection,
        batch_max: int,
        now: Callable[[], float],
        spool: Path | None = None,
    ) -> None:
        self._url = url
        self._pool = pool
        self._listener = listener
        # through an outage, writes wait in a local file and reach the database later, in order
        self.spool = (
            Spool(spool, self._transact, is_outage, where=f"PostgreSQL store {redact_store_url(url)}")
            if spool is not None
            else None
        )
        self._writer = BatchWriter(self.spool.transact if self.spool else self._transact, batch_max)
        self._now = now
        self.tickets = PgTicketBook(pool, self._writer, now, outbox_rows, self._outbox_changed)
        self.sessions = PgSessionBook(pool, self._writer)
        reader = Reader(pool=pool)
        self.audit = StoreAuditBook(reader, self._writer)
        self.signins = StoreSigninBook(reader, self._writer)
        self.personal = StorePersonalData(reader, self._writer)
        self.units = PgUnitBook(pool, self._writer)
        self.roster = PgRosterBook(pool, self._writer)
        self.followups = PgFollowupBook(pool, self._writer, now)
        self.knowledge = PgKnowledgeBook(pool, self._writer)
        self.reviews = PgReviewBook(pool, self._writer, now)
        self.outbox_listeners: list[Callable[[], None]] = []  # the bus wakes its sender here
        self._closing = False
        self._sending = False  # this node holds the sender lock
        self._listener_busy = asyncio.Lock()  # one query at a time on the listening connection
        self._relisten: asyncio.Task[None] | None = None
        self._connect_timeout = 10.0

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        batch_max: int = 500,
        now: Callable[[], float] = time.time,
        pool_size: int = 4,
        connect_timeout: float = 10.0,
        spool: Path | None = None,
    ) -> PgStore:
        """Connect, migrate and listen. Raises StoreError naming the server (never the password)
        when the URL is malformed or the database cannot be reached. `spool`: a local file for
        the writes made while the database is unreachable later (see ivr/store/spool.py)."""
        check_store_url(url)
        where = redact_store_url(url)
        try:
            pool = await asyncpg.create_pool(url, min_size=1, max_size=pool_size, timeout=connect_timeout)
        except _ERRORS as exc:
            raise StoreError(f"PostgreSQL store {where} not reachable: {exc}") from exc
        listener: asyncpg.Connection | None = None
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
            listener = await asyncpg.connect(url, timeout=connect_timeout)
            store = cls(url, pool, listener, batch_max, now, spool)
            store._connect_timeout = connect_timeout
            await listener.add_listener(CHANNEL, store._notified)
            listener.add_termination_listener(store._listener_lost)
            store._writer.start()
            if store.spool is not None:
                store.spool.start()
        except BaseException as exc:
            if listener is not None:
                await listener.close()
            await pool.close()
            if isinstance(exc, _ERRORS):
                raise StoreError(f"PostgreSQL store {where}: {exc}") from exc
            raise
        return store

    @property
    def location(self) -> str:
        return redact_store_url(self._url)

    @property
    def batches(self) -> int:
        return self._writer.batches

    async def seat_teams(self) -> dict[str, str]:
        """Seat id -> team name, for figures grouped by team (seats in no team left out)."""
        return await self.roster.seat_teams()

    async def close(self) -> None:
        self._closing = True
        if self._relisten is not None:
            self._relisten.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relisten
        await self._writer.close()
        if self.spool is not None:
            await self.spool.close()
        if self._sending:  # released before the connection goes, so a successor never finds it held
            async with self._listener_busy:
                with contextlib.suppress(*_ERRORS):
                    await self._listener.execute("SELECT pg_advisory_unlock($1)", _SENDER_LOCK)
        await self._listener.close()
        if self._sending:
            with contextlib.suppress(*_ERRORS):
                await self._pool.execute(_NOTIFY)  # another node's sender takes over now
        await self._pool.close()

    async def flush(self) -> None:
        await self._writer.flush()

    async def _transact(self, units: Sequence[Sequence[Statement]]) -> None:
        notify = False
        async with self._pool.acquire() as conn, conn.transaction():
            for statements in units:
                i = 0
                while i < len(statements):
                    sql = statements[i][0]
                    j = i + 1
                    while j < len(statements) and statements[j][0] == sql:
                        j += 1
                    if sql == _NOTIFY:
                        notify = True
                    elif j - i == 1:
                        await conn.execute(sql, *statements[i][1])
                    else:
                        await conn.executemany(sql, [tuple(p) for _, p in statements[i:j]])
                    i = j
            if notify:  # once per transaction, whatever the number of units
                await conn.execute(_NOTIFY)

    def _notified(self, conn: object, pid: int, channel: str, payload: object) -> None:
        self._outbox_changed()

    def _listener_lost(self, conn: object) -> None:
        self._sending = False  # the lock went with the connection
        if self._closing:
            return
        # until it is back, other nodes' outbox writes do not wake this node
        log.error("PostgreSQL store %s: the outbox listener lost its connection", self.location)
        if self._relisten is None or self._relisten.done():
            self._relisten = asyncio.get_running_loop().create_task(
                self._listen_again(), name="store-relisten"
            )

    async def _listen_again(self) -> None:
        """Reconnect the listening connection, backing off to one try every 5 s, until it is back
        or the store closes."""
        delay = 0.2
        while not self._closing:
            try:
                conn = await asyncpg.connect(self._url, timeout=self._connect_timeout)
                await conn.add_listener(CHANNEL, self._notified)
            except _ERRORS as exc:
                log.warning("PostgreSQL store %s: listening again failed: %s", self.location, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            conn.add_termination_listener(self._listener_lost)
            async with self._listener_busy:
                old, self._listener = self._listener, conn
            with contextlib.suppress(*_ERRORS):
                await old.close()
            log.info("PostgreSQL store %s: the outbox listener is back", self.location)
            self._outbox_changed()  # rows may have been written while nobody listened
            return

    # --- event logs (EventSink: never blocks, durable once the next batch commits) -----------
    def queue_event(self, event: QueueEvent) -> None:
        data = json.dumps(dict(event.data), ensure_ascii=False)
        self._writer.write_nowait(
            [(_QEVENT, (event.at, event.call_id, event.queue, event.kind.value, event.seat_id, data))]
        )

    def seat_event(self, event: SeatEvent) -> None:
        e = event
        params = (e.at, e.seat_id, e.state.value, e.previous.value, e.duration, e.reason, e.call_id)
        self._writer.write_nowait([(_SEVENT, params)])

    async def queue_events(self, since: float = 0.0, queue: str | None = None) -> list[QueueEvent]:
        sql = "SELECT at, call_id, queue, kind, seat_id, data FROM queue_events WHERE at >= $1"
        args: tuple[Any, ...] = (since,)
        if queue is not None:
            sql, args = sql + " AND queue = $2", (since, queue)
        rows = await self._pool.fetch(sql + " ORDER BY id", *args)
        return [QueueEvent(r[0], r[1], r[2], QueueEventKind(r[3]), r[4], json.loads(r[5])) for r in rows]

    async def seat_events(self, since: float = 0.0) -> list[SeatEvent]:
        sql = f"SELECT {_SEAT_COLUMNS} FROM seat_events WHERE at >= $1 ORDER BY id"
        rows = await self._pool.fetch(sql, since)
        return [SeatEvent(r[0], r[1], SeatState(r[2]), SeatState(r[3]), r[4], r[5], r[6]) for r in rows]

    async def last_seat_events(self) -> list[SeatEvent]:
        sql = f"SELECT {_SEAT_COLUMNS} FROM seat_events"
        sql += " WHERE id IN (SELECT MAX(id) FROM seat_events GROUP BY seat_id) ORDER BY id"
        rows = await self._pool.fetch(sql)
        return [SeatEvent(r[0], r[1], SeatState(r[2]), SeatState(r[3]), r[4], r[5], r[6]) for r in rows]

    # --- calls (CDR) -----------------------------------------------------------------------
    async def save_call(self, call: CallRecord) -> None:
        values = [json.dumps(list(call.path)) if c == "path" else getattr(call, c) for c in _CALL_COLUMNS]
        await self._writer.write([(_CALL, values)])

    async def open_calls(self, node: str) -> list[CallRecord]:
        sql = f"SELECT {', '.join(_CALL_COLUMNS)} FROM calls WHERE ended_at IS NULL AND node = $1"
        return [_call_record(r) for r in await self._pool.fetch(sql, node)]

    async def queue_events_of(self, call_id: str) -> list[QueueEvent]:
        sql = (
            "SELECT at, call_id, queue, kind, seat_id, data FROM queue_events WHERE call_id = $1 ORDER BY id"
        )
        rows = await self._pool.fetch(sql, call_id)
        return [QueueEvent(r[0], r[1], r[2], QueueEventKind(r[3]), r[4], json.loads(r[5])) for r in rows]

    async def get_call(self, call_id: str) -> CallRecord | None:
        sql = f"SELECT {', '.join(_CALL_COLUMNS)} FROM calls WHERE call_id = $1"
        row = await self._pool.fetchrow(sql, call_id)
        return None if row is None else _call_record(row)

    # --- outbox ------------------------------------------------------------------------------
    async def outbox_put(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        await self.outbox_put_many([Outgoing(topic, payload, qos, retain)])

    async def outbox_put_many(self, messages: Sequence[Outgoing]) -> None:
        if not messages:
            return
        await self._writer.write(outbox_rows(messages, self._now()))
        self._outbox_changed()

    def _outbox_changed(self) -> None:
        for fn in self.outbox_listeners:
            fn()

    async def outbox_latest(self, topic: str) -> OutboxItem | None:
        sql = f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE topic = $1 ORDER BY id DESC LIMIT 1"
        row = await self._pool.fetchrow(sql, topic)
        return _outbox_item(row) if row is not None else None

    async def _is_sender(self) -> bool:
        if not self._sending:
            async with self._listener_busy:
                if not self._sending and not self._listener.is_closed():
                    taken = await self._listener.fetchval("SELECT pg_try_advisory_lock($1)", _SENDER_LOCK)
                    self._sending = bool(taken)
        return self._sending

    async def outbox_pending(self, limit: int = 100, after: int = 0) -> list[OutboxItem]:
        """Undelivered messages by id, or none while another node is the sender."""
        if not await self._is_sender():
            return []
        sql = (
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox"
            " WHERE delivered_at IS NULL AND id > $1 ORDER BY id LIMIT $2"
        )
        return [_outbox_item(r) for r in await self._pool.fetch(sql, after, limit)]

    async def outbox_delivered(self, ids: Sequence[int]) -> None:
        if ids:
            sql = "UPDATE outbox SET delivered_at = $1 WHERE id = ANY($2::bigint[])"
            await self._writer.write([(sql, (self._now(), list(ids)))])

    async def outbox_prune(self, older_than: float) -> None:
        sql = "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < $1"
        await self._writer.write([(sql, (older_than,))])
