"""The shared queue's rows and the objects the ACD's own code works on.

A seat row becomes an `agents.seat.Seat` for the length of one transaction, so the one state
machine (pending requests, misses, wrap-up) decides every change whichever node makes it; its
events are collected and emitted once the transaction has committed. A waiting row becomes a
light `QueueEntry` that the strategies and skill widening read (context and line stay on the
node that holds the caller's media)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import asyncpg

from agents.lines import QueueEntry
from agents.seat import Pending, Seat
from ivr.config import SeatSettings
from ivr.records import CallContext, QueueRequest, SeatEvent, SeatState, urgency_for

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

SEAT_COLUMNS = (
    "seat_id, state, reason, since, idle_since, calls, talk_seconds, misses, call_id,"
    " pending_state, pending_reason"
)
SAVE_SEAT = (
    "UPDATE queue_seats SET state = $2, reason = $3, since = $4, idle_since = $5, calls = $6,"
    " talk_seconds = $7, misses = $8, call_id = $9, pending_state = $10, pending_reason = $11,"
    " wrapup_until = CASE WHEN $12 < 0 THEN wrapup_until ELSE $12 END WHERE seat_id = $1"
)
ENTRY_COLUMNS = "call_id, queue, priority, skills, entered_at, declined, attempts, node, callback, ord"
# the service order of agents/queue.py: priority, then queue weight, then arrival (or front)
SERVICE_ORDER = "priority DESC, weight DESC, ord"
NODE_CHANNEL = "hotline_node_"  # + node name: offers and exits for the node holding the caller
KICK_CHANNEL = "hotline_queue"  # a seat or a caller became available: every node tries a match
SEAT_CHANNEL = "hotline_seats"  # every committed seat row, as JSON (a trigger sends it)
ENTRY_CHANNEL = "hotline_entries"  # every committed caller change: call id, queue, state, entered_at


def node_channel(node: str) -> str:
    return NODE_CHANNEL + "".join(c if c.isalnum() else "_" for c in node)


class SeatBox:
    """Seats loaded in one transaction: the Seat objects and the events their changes made."""

    def __init__(self, settings: Mapping[str, SeatSettings], order: Mapping[str, int]) -> None:
        self._settings = settings
        self._order = order
        self.events: list[SeatEvent] = []

    def knows(self, seat_id: str) -> bool:
        return seat_id in self._settings

    def seat(self, row: Any) -> Seat:
        seat = Seat(self._settings[row[0]], self._order[row[0]], self.events.append)
        seat.state, seat.reason, seat.since = SeatState(row[1]), row[2], row[3]
        seat.idle_since, seat.calls, seat.talk_seconds, seat.misses = row[4], row[5], row[6], row[7]
        seat.call_id = row[8]
        seat.pending = Pending(SeatState(row[9]), row[10]) if row[9] else None
        return seat

    async def load(self, conn: Conn, seat_id: str) -> Seat | None:
        """The seat, row-locked until the transaction ends."""
        row = await conn.fetchrow(
            f"SELECT {SEAT_COLUMNS} FROM queue_seats WHERE seat_id = $1 FOR UPDATE", seat_id
        )
        return self.seat(row) if row is not None and row[0] in self._settings else None


def seat_params(seat: Seat, wrapup_until: float = -1.0) -> tuple[Any, ...]:
    """SAVE_SEAT's parameters; `wrapup_until` -1 keeps the stored end of a wrap-up."""
    pending = seat.pending
    return (
        seat.id,
        seat.state.value,
        seat.reason,
        seat.since,
        seat.idle_since,
        seat.calls,
        seat.talk_seconds,
        seat.misses,
        seat.call_id,
        pending.state.value if pending else "",
        pending.reason if pending else "",
        wrapup_until if seat.state is SeatState.WRAP_UP else 0.0,
    )


async def save_seat(conn: Conn, seat: Seat, wrapup_until: float = -1.0) -> None:
    await conn.execute(SAVE_SEAT, *seat_params(seat, wrapup_until))


async def seed_seats(conn: Conn, seat_ids: Sequence[str]) -> None:
    """Rows for configured seats that have none yet (logged out); existing rows are kept."""
    await conn.execute(
        "INSERT INTO queue_seats (seat_id, state) SELECT s, 'logged_out' FROM unnest($1::text[]) AS s"
        " ON CONFLICT (seat_id) DO NOTHING",
        list(seat_ids),
    )


def entry_from_row(row: Any) -> QueueEntry:
    """A waiting row as the strategies see it (no line, no context beyond the call id)."""
    skills = json.loads(row[3])
    ctx = CallContext(row[0], "")
    entry = QueueEntry(QueueRequest(row[1], ctx, priority=row[2], skills=skills), row[4])
    entry.declined = set(row[5])
    entry.attempts = row[6]
    entry.callback = row[8]
    entry.order = row[9]
    return entry


def context_json(ctx: CallContext) -> str:
    return json.dumps(asdict(ctx), ensure_ascii=False)


def context_from_json(text: str) -> CallContext:
    d = json.loads(text)
    d["path"] = tuple(d.get("path", ()))
    d["transcript"] = tuple(d.get("transcript", ()))
    category = (*d.get("category", ()), "", "", "")
    d["category"] = (str(category[0]), str(category[1]), str(category[2]))
    d["urgency"] = urgency_for(d.get("urgency"))
    return CallContext(**d)


def is_ready(seat: Seat) -> bool:
    """After a state change (a function, so type narrowing of `seat.state` does not stick)."""
    return seat.state is SeatState.READY


async def logged_in(conn: Conn, seat_ids: Sequence[str]) -> int:
    """How many of these seats are logged in."""
    n = await conn.fetchval(
        "SELECT count(*) FROM queue_seats WHERE seat_id = ANY($1::text[]) AND state <> 'logged_out'",
        list(seat_ids),
    )
    return int(n)


def copy_row(seat: Seat, row: Mapping[str, Any]) -> None:
    """Set a mirror Seat from a seat row (a record or the JSON the trigger sends)."""
    seat.state, seat.reason, seat.since = SeatState(row["state"]), row["reason"], row["since"]
    seat.idle_since, seat.calls, seat.talk_seconds = row["idle_since"], row["calls"], row["talk_seconds"]
    seat.misses, seat.call_id = row["misses"], row["call_id"]
    pending = row["pending_state"]
    seat.pending = Pending(SeatState(pending), row["pending_reason"]) if pending else None
