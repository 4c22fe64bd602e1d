"""One match round of the shared queue: one PostgreSQL transaction that pairs ready seats with
waiting callers of every node, in the global service order, with the ACD's own strategies.

Why it cannot give a caller two seats or a seat two callers:
- rounds are serialized by a transaction advisory lock, so two nodes never decide on the same
  snapshot (and the global order holds: a round sees every waiting caller, not just those a
  concurrent round left unlocked);
- ready seats are locked `FOR UPDATE SKIP LOCKED`: a seat that a console command or an offer
  outcome is changing right now is skipped (that change kicks another round when it commits);
- callers are claimed with a conditional update (`state = 'waiting'`): one who hung up, timed
  out or was swept since the read is not claimed, and its seat stays ready for the next round;
- the offer reaches the caller's node by NOTIFY, delivered only if the round commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg

from agents.lines import QueueEntry
from agents.seat import Seat
from agents.shared.rows import (
    ENTRY_COLUMNS,
    SAVE_SEAT,
    SEAT_COLUMNS,
    SERVICE_ORDER,
    Conn,
    SeatBox,
    entry_from_row,
    node_channel,
    seat_params,
)
from agents.strategy import Chooser, qualifies, required_levels, wanted_skills
from ivr.config import QueueSettings

MATCH_LOCK = 0x12347  # pg_advisory_xact_lock key held by a match round
_PAGE = 50  # waiting rows read at a time


@dataclass(frozen=True)
class Match:
    """A caller offered to a seat: the node holding the caller's media rings it."""

    call_id: str
    queue: str
    seat_id: str
    node: str
    attempt: int
    wait: float


@dataclass
class Round:
    matches: list[Match]
    box: SeatBox  # its events: the seats that went ringing
    missed: bool = False  # a claim failed (the caller left meanwhile): run another round


async def match_round(
    conn: Conn, queues: Mapping[str, QueueSettings], box: SeatBox, chooser: Chooser, now: float, node: str
) -> Round:
    """Decide and commit one round; offers for other nodes are NOTIFYed at commit, offers for
    `node` are the caller's to run (returned)."""
    async with conn.transaction():
        return await decide(conn, queues, box, chooser, now, node)


async def decide(
    conn: Conn, queues: Mapping[str, QueueSettings], box: SeatBox, chooser: Chooser, now: float, node: str
) -> Round:
    """One round inside the caller's transaction (which must be open): a seat freeing or a
    caller arriving decides in the transaction that made the change. Holds the round lock
    until that transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", MATCH_LOCK)
    rows = await conn.fetch(
        f"SELECT {SEAT_COLUMNS} FROM queue_seats WHERE state = 'ready' FOR UPDATE SKIP LOCKED"
    )
    ready = {r[0]: box.seat(r) for r in rows if box.knows(r[0])}
    if not ready:
        return Round([], box)
    served = sorted({q for s in ready.values() for q in s.settings.queues if q in queues})
    robin = [q for q in served if queues[q].strategy == "round_robin"]
    if robin:
        rr = await conn.fetch("SELECT queue, last_order FROM queue_rr WHERE queue = ANY($1::text[])", robin)
        chooser.rr_last = {r[0]: r[1] for r in rr}
    # callers in service order, a page at a time: a freed seat usually takes one of the first
    cursor = await conn.cursor(
        f"SELECT {ENTRY_COLUMNS} FROM queue_entries WHERE state = 'waiting' AND queue = ANY($1::text[])"
        f" ORDER BY {SERVICE_ORDER}",
        served,
    )
    picks: list[tuple[QueueEntry, str, Seat]] = []
    for _ in range(100_000):  # bounded by the waiting rows: ends when a page comes back short
        page = await cursor.fetch(_PAGE)
        picks += _choose(page, ready, queues, chooser, now)
        if not ready or len(page) < _PAGE:
            break
    if not picks:
        return Round([], box)
    claimed = await conn.fetch(
        "UPDATE queue_entries AS e SET state = 'ringing', seat_id = p.seat, attempts = e.attempts + 1,"
        " offered_at = $3 FROM unnest($1::text[], $2::text[]) AS p(call_id, seat)"
        " WHERE e.call_id = p.call_id AND e.state = 'waiting' RETURNING e.call_id, e.attempts",
        [e.call_id for e, _, _ in picks],
        [s.id for _, _, s in picks],
        now,
    )
    attempts = {r[0]: r[1] for r in claimed}
    result = Round([], box, missed=len(claimed) < len(picks))
    offered: list[Seat] = []
    for entry, owner, seat in picks:
        if entry.call_id not in attempts:
            continue
        seat.offer(now, entry.call_id)
        offered.append(seat)
        wait = now - entry.entered_at
        result.matches.append(
            Match(entry.call_id, entry.queue, seat.id, owner, attempts[entry.call_id], wait)
        )
    if not offered:
        return result
    await conn.executemany(SAVE_SEAT, [seat_params(s) for s in offered])
    if robin:
        last = {q: chooser.rr_last[q] for q in robin if q in chooser.rr_last}
        await conn.execute(
            "INSERT INTO queue_rr (queue, last_order) SELECT * FROM unnest($1::text[], $2::int[])"
            " ON CONFLICT (queue) DO UPDATE SET last_order = EXCLUDED.last_order",
            list(last),
            list(last.values()),
        )
    others = [m for m in result.matches if m.node != node]
    if others:
        await conn.execute(
            "SELECT pg_notify(c, m) FROM unnest($1::text[], $2::text[]) AS t(c, m)",
            [node_channel(m.node) for m in others],
            [f"offer {m.call_id} {m.seat_id} {m.attempt}" for m in others],
        )
    return result


def _choose(
    rows: list[asyncpg.Record],
    ready: dict[str, Seat],
    queues: Mapping[str, QueueSettings],
    chooser: Chooser,
    now: float,
) -> list[tuple[QueueEntry, str, Seat]]:
    """The in-memory ACD's matching loop over rows: callers in service order, each given the
    seat its queue's strategy picks among the eligible ready ones."""
    picks: list[tuple[QueueEntry, str, Seat]] = []
    for row in rows:
        if not ready:
            break
        q = queues.get(row[1])
        if q is None:
            continue
        candidates = [s for s in ready.values() if s.serves(q.name)]
        if not candidates:
            continue
        entry = entry_from_row(row)
        levels = required_levels(entry, q, now)
        seats = [s for s in candidates if qualifies(s, levels)]
        if seats:
            seat = chooser.pick(q.strategy, seats, entry, wanted_skills(entry, q))
            del ready[seat.id]
            picks.append((entry, row[7], seat))
    return picks
