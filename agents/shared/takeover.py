"""Taking over from dead nodes: the lease task of a shared-queue node, and what it does with
the callers of a node whose lease ran out (leases.py has the transaction).

Every lost caller leaves the queue with one terminal event, written by the node that swept
them: ABANDON with `lost_node` and `callback_ticket` (the 回拨 ticket: number, IVR path,
transcript, wait, in its context) for a caller who was waiting or ringing, COMPLETECALLER with
`lost_node` for one who was talking (the operator has the ticket from the screen pop). A seat
ringing for them is ready again, one talking goes through wrap-up.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from agents.shared.leases import Lost, Stale, renew, sweep
from agents.shared.node import ERRORS, QueueNode
from agents.shared.rows import KICK_CHANNEL, Conn
from ivr.records import QueueEventKind as K
from ivr.records import QueueResult

log = logging.getLogger(__name__)

_KICK = f"NOTIFY {KICK_CHANNEL}"


class Takeover:
    """Works on a node's own bookkeeping (its entries, events and ticket book)."""

    def __init__(self, acd: QueueNode) -> None:
        self.acd = acd

    async def run(self) -> None:
        """Renew the lease three times per period and sweep expired nodes each time."""
        for _ in range(100_000_000):  # for the life of the node
            await self.acd.clock.sleep(self.acd.lease_seconds / 3)
            with contextlib.suppress(*ERRORS):
                await self.sweep()

    async def sweep(self) -> list[Lost]:
        """Renew the node's lease, then take over expired nodes' callers and seats (leases.py):
        each lost caller becomes a callback ticket. Returns the callers taken over."""
        now = self.acd.clock.now()
        box = self.acd.box()
        wrapups = {sid: cfg.wrapup_seconds for sid, cfg in self.acd.seat_settings.items()}
        async with self.acd.pool.acquire() as conn:
            if not await renew(conn, self.acd.node, now + self.acd.lease_seconds):
                await self._swept_alive(conn)
            stale: list[Stale] = []
            lost = await sweep(conn, self.acd.node, now, self.acd.queues, wrapups, box, stale)
            if lost or stale or box.events:
                await conn.execute(_KICK)
        self.acd._emit_seats(box)
        for t in stale:
            log.warning("offer of %s to seat %s was never rung: back at the front", t.call_id, t.seat_id)
            self.acd._qevent(
                t.call_id, t.queue, K.RINGNOANSWER, t.seat_id, outcome="failed", ring=now - t.offered_at
            )
        for gone in lost:
            await self._callback_ticket(gone, now)
        self.acd.lost.extend(lost)
        return lost

    async def _swept_alive(self, conn: Conn) -> None:
        """Our lease ran out while we lived (a stall, a lost database link): other nodes have
        taken our callers' rows and made callback tickets; the waits end here as errors."""
        kept = {
            r[0] for r in await conn.fetch("SELECT call_id FROM queue_entries WHERE node = $1", self.acd.node)
        }
        gone = [e for e in self.acd._entries.values() if e.call_id not in kept]
        if gone:
            log.error(
                "node %s: lease expired while running; %d caller(s) handed over", self.acd.node, len(gone)
            )
        for entry in gone:
            self.acd._finish(entry, QueueResult("error", entry.ticket_id, None, self.acd._waited(entry)))

    async def _callback_ticket(self, gone: Lost, now: float) -> None:
        ctx = gone.context
        waited = max(0.0, (gone.connected_at or now) - gone.entered_at)
        ticket_id = gone.ticket_id
        if gone.state == "connected":
            self.acd._qevent(
                ctx.call_id, gone.queue, K.COMPLETECALLER, gone.seat_id, wait=waited, lost_node=gone.node
            )
            return  # an operator talked with them: the ticket from the screen pop is theirs
        if self.acd._tickets is not None:
            note = f"回拨：排队{waited:.0f}秒时所在节点失效，请回电。"
            context = {
                **ctx.ivr(),
                "callback": {"reason": "node_lost", "node": gone.node, "queue": gone.queue, "waited": waited},
            }
            values: dict[str, Any] = {
                "status": "open",
                "description": f"{note}{ctx.description}",
                "context": context,
            }
            try:
                if ticket_id:
                    await self.acd._tickets.update(ticket_id, values, actor="acd")
                else:
                    ticket = await self.acd._tickets.create(
                        ctx.caller,
                        call_id=ctx.call_id,
                        urgency=ctx.urgency,
                        category1=ctx.category[0],
                        category2=ctx.category[1],
                        category3=ctx.category[2],
                        address=ctx.address,
                        **values,
                    )
                    ticket_id = ticket.id
            except Exception:
                log.exception("callback ticket for %s (node %s lost) failed", ctx.call_id, gone.node)
        if gone.state == "ringing":
            self.acd._qevent(ctx.call_id, gone.queue, K.RINGCANCELED, gone.seat_id)
        self.acd._qevent(
            ctx.call_id,
            gone.queue,
            K.ABANDON,
            position=0,
            wait=waited,
            lost_node=gone.node,
            callback_ticket=ticket_id,
        )
