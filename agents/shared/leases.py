"""Node leases of the shared queue, and what happens to a node's callers when its lease runs out.

Every node renews its lease (`queue_nodes.lease_until`) a few times per lease period. Any live
node sweeps: in one transaction it takes the expired nodes' rows (`FOR UPDATE SKIP LOCKED`, so
one sweeper per dead node), deletes their callers' entries and frees their seats (a seat that
was ringing is ready again; one that was talking goes to wrap-up, which the sweep ends when it
is overdue, as it does for any wrap-up whose node died). The callers come back as `Lost` rows,
each turned into a callback ticket (回拨) by the sweeping node after the commit: only the
committing sweeper holds them, so a ticket is never made twice; a sweeper killed between its
commit and the ticket write would lose those tickets (a window of milliseconds, logged by
nobody: the next engineer may close it with a `lost` state and a second pass).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from agents.shared.rows import SEAT_COLUMNS, Conn, SeatBox, context_from_json, save_seat
from ivr.config import QueueSettings
from ivr.records import CallContext

WRAPUP_GRACE = 2.0  # seconds past its end before a sweep ends a wrap-up its node did not
# seconds past the ringing node's own guard (ring_timeout + 5) before a sweep takes an offer
# back: its node never got it (a lost NOTIFY, a dropped listening connection) or is stuck
RING_GRACE = 10.0


@dataclass(frozen=True)
class Stale:
    """An offer taken back: the caller waits at the front again, the seat is ready."""

    call_id: str
    queue: str
    seat_id: str
    offered_at: float


@dataclass(frozen=True)
class Lost:
    """A caller whose node died: waiting, ringing a seat, or talking."""

    context: CallContext
    queue: str
    node: str
    state: str
    seat_id: str
    entered_at: float
    connected_at: float
    callback: bool
    ticket_id: str


async def renew(conn: Conn, node: str, until: float) -> bool:
    """Extend the lease; False when there was none (first start, or swept as dead meanwhile)."""
    kept = await conn.fetchval(
        "INSERT INTO queue_nodes (node, lease_until) VALUES ($1, $2)"
        " ON CONFLICT (node) DO UPDATE SET lease_until = EXCLUDED.lease_until RETURNING xmax <> 0",
        node,
        until,
    )
    return bool(kept)


async def sweep(
    conn: Conn,
    node: str,
    now: float,
    queues: Mapping[str, QueueSettings],
    wrapups: Mapping[str, float | None],
    box: SeatBox,
    stale: list[Stale],
) -> list[Lost]:
    """One transaction: expired nodes' callers out, their seats freed, overdue wrap-ups ended,
    offers that no node rang taken back (into `stale`). `wrapups` is each seat's own wrap-up
    seconds (None: the queue's). Seat events in `box`."""
    lost: list[Lost] = []
    async with conn.transaction():
        dead = await conn.fetch(
            "SELECT node FROM queue_nodes WHERE lease_until < $1 AND node <> $2 FOR UPDATE SKIP LOCKED",
            now,
            node,
        )
        names = [r[0] for r in dead]
        if names:
            rows = await conn.fetch(
                "DELETE FROM queue_entries WHERE node = ANY($1::text[]) RETURNING context, queue, node,"
                " state, seat_id, entered_at, connected_at, callback, ticket_id",
                names,
            )
            await conn.execute("DELETE FROM queue_nodes WHERE node = ANY($1::text[])", names)
            for r in rows:
                gone = Lost(context_from_json(r[0]), *r[1:])
                lost.append(gone)
                await _free_seat(conn, gone, now, queues, wrapups, box)
        stale += await _take_back(conn, now, queues, box)
        overdue = await conn.fetch(
            f"SELECT {SEAT_COLUMNS} FROM queue_seats WHERE state = 'wrap_up' AND wrapup_until > 0"
            " AND wrapup_until < $1 FOR UPDATE SKIP LOCKED",
            now - WRAPUP_GRACE,
        )
        for row in overdue:
            if box.knows(row[0]):
                seat = box.seat(row)
                seat.end_wrapup(now)
                await save_seat(conn, seat)
    return lost


async def _free_seat(
    conn: Conn,
    gone: Lost,
    now: float,
    queues: Mapping[str, QueueSettings],
    wrapups: Mapping[str, float | None],
    box: SeatBox,
) -> None:
    if not gone.seat_id or gone.state not in ("ringing", "connected"):
        return
    seat = await box.load(conn, gone.seat_id)
    if seat is None or seat.call_id != gone.context.call_id:
        return
    q = queues.get(gone.queue)
    if gone.state == "ringing" and seat.state.value == "ringing":
        seat.ring_failed(now, False, q.max_no_answer if q else 2)
        await save_seat(conn, seat)
    elif gone.state == "connected" and seat.state.value == "talking":
        own = wrapups.get(seat.id)
        seconds = own if own is not None else (q.wrapup_seconds if q else 0.0)
        seat.hung_up(now, seconds > 0)
        await save_seat(conn, seat, now + seconds)


async def _take_back(
    conn: Conn, now: float, queues: Mapping[str, QueueSettings], box: SeatBox
) -> list[Stale]:
    longest = max((q.ring_timeout for q in queues.values()), default=0.0)
    rows = await conn.fetch(
        "SELECT call_id, queue, seat_id, offered_at FROM queue_entries WHERE state = 'ringing'"
        " AND offered_at < $1 FOR UPDATE SKIP LOCKED",
        now - longest - 5.0 - RING_GRACE,
    )
    taken = [Stale(*r) for r in rows]
    for t in taken:
        seat = await box.load(conn, t.seat_id)
        if seat is not None and seat.state.value == "ringing" and seat.call_id == t.call_id:
            q = queues.get(t.queue)
            seat.ring_failed(now, False, q.max_no_answer if q else 2)
            await save_seat(conn, seat)
    if taken:
        await conn.execute(
            "UPDATE queue_entries SET state = 'waiting', seat_id = '', ord = -nextval('queue_order')"
            " WHERE call_id = ANY($1::text[])",
            [t.call_id for t in taken],
        )
    return taken
