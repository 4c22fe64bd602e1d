"""The store: one SQLite file in WAL mode, one writer that batches, durable event logs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from ivr.records import CallRecord, QueueEvent, QueueEventKind, SeatEvent, SeatState
from ivr.store.rows import OutboxItem
from ivr.store.schema import migrate
from ivr.store.tickets import TicketBook
from ivr.store.writer import BatchWriter, Statement

_OUTBOX = "INSERT INTO outbox (topic, payload, qos, retain, created_at) VALUES (?, ?, ?, ?, ?)"
_QEVENT = "INSERT INTO queue_events (at, call_id, queue, kind, seat_id, data) VALUES (?, ?, ?, ?, ?, ?)"
_SEAT_COLUMNS = "at, seat_id, state, previous, duration, reason, call_id"
_SEVENT = f"INSERT INTO seat_events ({_SEAT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
_CALL_COLUMNS = tuple(CallRecord.__dataclass_fields__)
_CALL = "INSERT OR REPLACE INTO calls ({}) VALUES ({})".format(
    ", ".join(_CALL_COLUMNS), ", ".join("?" * len(_CALL_COLUMNS))
)


def outbox_statement(
    topic: str, payload: bytes, qos: int = 1, retain: bool = False, at: float = 0.0
) -> Statement:
    """An outbox row to commit together with the change it announces."""
    return (_OUTBOX, (topic, payload, qos, int(retain), at or time.time()))


class Store:
    """Open with `await Store.open(path)`; close with `await store.close()` (flushes)."""

    def __init__(self, conn: aiosqlite.Connection, writer: BatchWriter, now: Callable[[], float]) -> None:
        self._conn = conn
        self._writer = writer
        self._now = now
        self.tickets = TicketBook(conn, writer, now, self._outbox_changed)
        self.path = Path()
        self.outbox_listeners: list[Callable[[], None]] = []  # the bus wakes its sender here

    @classmethod
    async def open(
        cls, path: str | Path, *, batch_max: int = 500, now: Callable[[], float] = time.time
    ) -> Store:
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
            writer = BatchWriter(conn, batch_max)
            writer.start()
            store = cls(conn, writer, now)
            store.path = Path(path)
            await store.tickets.load()
        except BaseException:
            await conn.close()
            raise
        return store

    @property
    def batches(self) -> int:
        return self._writer.batches

    async def close(self) -> None:
        await self._writer.close()
        await self._conn.close()

    async def flush(self) -> None:
        await self._writer.flush()

    async def write(self, statements: Sequence[Statement]) -> None:
        """Commit raw statements atomically (for callers composing their own units)."""
        await self._writer.write(statements)
        if any(sql == _OUTBOX for sql, _ in statements):
            self._outbox_changed()

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

    # --- calls (CDR) -----------------------------------------------------------------------
    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Read-only queries for reports (the writer batches all writes)."""
        async with self._conn.execute(sql, tuple(params)) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    async def save_call(self, call: CallRecord) -> None:
        values = [json.dumps(list(call.path)) if c == "path" else getattr(call, c) for c in _CALL_COLUMNS]
        await self._writer.write([(_CALL, values)])

    async def get_call(self, call_id: str) -> CallRecord | None:
        sql = f"SELECT {', '.join(_CALL_COLUMNS)} FROM calls WHERE call_id = ?"
        async with self._conn.execute(sql, (call_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        values = dict(zip(_CALL_COLUMNS, row, strict=True))
        values["path"] = tuple(json.loads(values["path"]))
        return CallRecord(**values)

    # --- outbox ------------------------------------------------------------------------------
    async def outbox_put(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        await self._writer.write([outbox_statement(topic, payload, qos, retain, self._now())])
        self._outbox_changed()

    def _outbox_changed(self) -> None:
        for fn in self.outbox_listeners:
            fn()

    async def outbox_pending(self, limit: int = 100, after: int = 0) -> list[OutboxItem]:
        sql = (
            "SELECT id, topic, payload, qos, retain, created_at FROM outbox"
            " WHERE delivered_at IS NULL AND id > ? ORDER BY id LIMIT ?"
        )
        async with self._conn.execute(sql, (after, limit)) as cur:
            rows = await cur.fetchall()
        return [OutboxItem(r[0], r[1], bytes(r[2]), r[3], bool(r[4]), r[5]) for r in rows]

    async def outbox_delivered(self, ids: Sequence[int]) -> None:
        now = self._now()
        await self._writer.write([("UPDATE outbox SET delivered_at = ? WHERE id = ?", (now, i)) for i in ids])

    async def outbox_prune(self, older_than: float) -> None:
        """Drop delivered rows older than `older_than` (epoch seconds)."""
        sql = "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?"
        await self._writer.write([(sql, (older_than,))])
