"""The embedded store: one SQLite file in WAL mode, one writer that batches, durable event logs.

The default for one machine and `ivr demo`; `ivr.store.postgres` is the same store for a centre
whose nodes share one database."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from ivr.records import CallRecord, QueueEvent, QueueEventKind, SeatEvent, SeatState
from ivr.store.audit import StoreAuditBook
from ivr.store.base import OutboxItem, Outgoing
from ivr.store.dialect import Reader
from ivr.store.followups import SqliteFollowupBook
from ivr.store.knowledge import SqliteKnowledgeBook
from ivr.store.retention import StorePersonalData
from ivr.store.reviews import SqliteReviewBook
from ivr.store.roster import SqliteRosterBook
from ivr.store.schema import migrate
from ivr.store.sessions import SqliteSessionBook
from ivr.store.signins import StoreSigninBook
from ivr.store.tickets import SqliteTicketBook
from ivr.store.units import SqliteUnitBook
from ivr.store.writer import BatchWriter, Statement

_OUTBOX = "INSERT INTO outbox (topic, payload, qos, retain, created_at) VALUES (?, ?, ?, ?, ?)"
_OUTBOX_COLUMNS = "id, topic, payload, qos, retain, created_at"
_QEVENT = "INSERT INTO queue_events (at, call_id, queue, kind, seat_id, data) VALUES (?, ?, ?, ?, ?, ?)"
_SEAT_COLUMNS = "at, seat_id, state, previous, duration, reason, call_id"
_SEVENT = f"INSERT INTO seat_events ({_SEAT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
_CALL_COLUMNS = tuple(CallRecord.__dataclass_fields__)
_CALL = "INSERT OR REPLACE INTO calls ({}) VALUES ({})".format(
    ", ".join(_CALL_COLUMNS), ", ".join("?" * len(_CALL_COLUMNS))
)


def _call_record(row: Any) -> CallRecord:
    values = dict(zip(_CALL_COLUMNS, row, strict=True))
    values["path"] = tuple(json.loads(values["path"]))
    return CallRecord(**values)


def outbox_rows(messages: Sequence[Outgoing], at: float) -> list[Statement]:
    return [(_OUTBOX, (m.topic, m.payload, m.qos, int(m.retain), at)) for m in messages]


def _outbox_item(r: Any) -> OutboxItem:
    return OutboxItem(r[0], r[1], bytes(r[2]), r[3], bool(r[4]), r[5])


class SqliteStore:
    """Open with `await SqliteStore.open(path)`; close with `await store.close()` (flushes)."""

    def __init__(self, conn: aiosqlite.Connection, batch_max: int, now: Callable[[], float]) -> None:
        self._conn = conn
        self._writer = BatchWriter(self._transact, batch_max)
        self._now = now
        self.tickets = SqliteTicketBook(conn, self._writer, now, outbox_rows, self._outbox_changed)
        self.sessions = SqliteSessionBook(conn, self._writer)
        reader = Reader(conn=conn)
        self.audit = StoreAuditBook(reader, self._writer)
        self.signins = StoreSigninBook(reader, self._writer)
        self.personal = StorePersonalData(reader, self._writer)
        self.units = SqliteUnitBook(conn, self._writer)
        self.roster = SqliteRosterBook(conn, self._writer)
        self.followups = SqliteFollowupBook(conn, self._writer, now)
        self.knowledge = SqliteKnowledgeBook(conn, self._writer)
        self.reviews = SqliteReviewBook(conn, self._writer, now)
        self.path = Path()
        self.outbox_listeners: list[Callable[[], None]] = []  # the bus wakes its sender here

    @classmethod
    async def open(
        cls, path: str | Path, *, batch_max: int = 500, now: Callable[[], float] = time.time
    ) -> SqliteStore:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        try:
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute(
                "PRAGMA synchronous = NORMAL"
            )  # WAL + NORMAL: durable at checkpoints, no torn db
            await conn.execute("PRAGMA foreign_keys = ON")
            await conn.execute("PRAGMA busy_timeout = 5000")
            await migrate(conn)
            store = cls(conn, batch_max, now)
            store._writer.start()
            store.path = Path(path)
            await store.tickets.load()
        except BaseException:
            await conn.close()
            raise
        return store

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def batches(self) -> int:
        return self._writer.batches

    async def seat_teams(self) -> dict[str, str]:
        """Seat id -> team name, for figures grouped by team (seats in no team left out)."""
        return await self.roster.seat_teams()

    async def close(self) -> None:
        await self._writer.close()
        await self._conn.close()

    async def flush(self) -> None:
        await self._writer.flush()

    async def _transact(self, units: Sequence[Sequence[Statement]]) -> None:
        conn = self._conn
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statements in units:
                await self._execute(statements)
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise

    async def _execute(self, statements: Sequence[Statement]) -> None:
        """Runs of the same SQL go through executemany: one thread hop instead of many."""
        i = 0
        while i < len(statements):
            sql = statements[i][0]
            j = i + 1
            while j < len(statements) and statements[j][0] == sql:
                j += 1
            if j - i == 1:
                await self._conn.execute(sql, statements[i][1])
            else:
                await self._conn.executemany(sql, [p for _, p in statements[i:j]])
            i = j

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
        sql = "SELECT at, call_id, queue, kind, seat_id, data FROM queue_events WHERE at >= ?"
        args: tuple[Any, ...] = (since,)
        if queue is not None:
            sql, args = sql + " AND queue = ?", (since, queue)
        async with self._conn.execute(sql + " ORDER BY id", args) as cur:
            rows = await cur.fetchall()
        return [QueueEvent(r[0], r[1], r[2], QueueEventKind(r[3]), r[4], json.loads(r[5])) for r in rows]

    async def seat_events(self, since: float = 0.0) -> list[SeatEvent]:
        sql = f"SELECT {_SEAT_COLUMNS} FROM seat_events WHERE at >= ? ORDER BY id"
        async with self._conn.execute(sql, (since,)) as cur:
            rows = await cur.fetchall()
        return [SeatEvent(r[0], r[1], SeatState(r[2]), SeatState(r[3]), r[4], r[5], r[6]) for r in rows]

    async def last_seat_events(self) -> list[SeatEvent]:
        sql = f"SELECT {_SEAT_COLUMNS} FROM seat_events"
        sql += " WHERE id IN (SELECT MAX(id) FROM seat_events GROUP BY seat_id) ORDER BY id"
        async with self._conn.execute(sql) as cur:
            rows = await cur.fetchall()
        return [SeatEvent(r[0], r[1], SeatState(r[2]), SeatState(r[3]), r[4], r[5], r[6]) for r in rows]

    # --- calls (CDR) -----------------------------------------------------------------------
    async def save_call(self, call: CallRecord) -> None:
        values = [json.dumps(list(call.path)) if c == "path" else getattr(call, c) for c in _CALL_COLUMNS]
        await self._writer.write([(_CALL, values)])

    async def open_calls(self, node: str) -> list[CallRecord]:
        sql = f"SELECT {', '.join(_CALL_COLUMNS)} FROM calls WHERE ended_at IS NULL AND node = ?"
        async with self._conn.execute(sql, (node,)) as cur:
            rows = await cur.fetchall()
        return [_call_record(r) for r in rows]

    async def queue_events_of(self, call_id: str) -> list[QueueEvent]:
        sql = "SELECT at, call_id, queue, kind, seat_id, data FROM queue_events WHERE call_id = ? ORDER BY id"
        async with self._conn.execute(sql, (call_id,)) as cur:
            rows = await cur.fetchall()
        return [QueueEvent(r[0], r[1], r[2], QueueEventKind(r[3]), r[4], json.loads(r[5])) for r in rows]

    async def get_call(self, call_id: str) -> CallRecord | None:
        sql = f"SELECT {', '.join(_CALL_COLUMNS)} FROM calls WHERE call_id = ?"
        async with self._conn.execute(sql, (call_id,)) as cur:
            row = await cur.fetchone()
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
        sql = f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE topic = ? ORDER BY id DESC LIMIT 1"
        async with self._conn.execute(sql, (topic,)) as cur:
            row = await cur.fetchone()
        return _outbox_item(row) if row is not None else None

    async def outbox_pending(self, limit: int = 100, after: int = 0) -> list[OutboxItem]:
        sql = (
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE delivered_at IS NULL AND id > ? ORDER BY id LIMIT ?"
        )
        async with self._conn.execute(sql, (after, limit)) as cur:
            rows = await cur.fetchall()
        return [_outbox_item(r) for r in rows]

    async def outbox_delivered(self, ids: Sequence[int]) -> None:
        now = self._now()
        await self._writer.write([("UPDATE outbox SET delivered_at = ? WHERE id = ?", (now, i)) for i in ids])

    async def outbox_prune(self, older_than: float) -> None:
        sql = "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?"
        await self._writer.write([(sql, (older_than,))])
