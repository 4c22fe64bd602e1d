"""The timers of a waiting caller on their node: max wait, position announcements and skill
widening (as in `agents.acd.Acd`), over the shared rows."""

from __future__ import annotations

from agents.lines import EntryState, QueueEntry
from agents.shared.desk import SeatDesk
from agents.strategy import next_widen_at
from ivr.records import QueueEventKind as K
from ivr.records import QueueResult


class CallerTimers(SeatDesk):
    def _start_timers(self, entry: QueueEntry) -> None:
        if entry.timer_task is not None:
            entry.timer_task.cancel()
        entry.timer_task = self._spawn(self._timers(entry), f"wait-{entry.call_id}")

    async def _timers(self, entry: QueueEntry) -> None:
        """Max wait, announcements and skill widening while the entry waits (as in `Acd`)."""
        q = self.queues[entry.queue]
        for _ in range(1_000_000):  # one turn per timer that fires; ends with the wait
            if entry.state is not EntryState.WAITING:
                return
            now = self.clock.now()
            deadline = entry.entered_at + q.max_wait if q.max_wait > 0 and not entry.callback else None
            if deadline is not None and now >= deadline:
                await self._time_out(entry)
                return
            if q.announce_every > 0 and entry.line is not None and now >= entry.next_announce:
                entry.next_announce = now + q.announce_every
                if entry.announce_task is None or entry.announce_task.done():
                    entry.announce_task = self._spawn(self._announce(entry), f"announce-{entry.call_id}")
            wakes = [t for t in (deadline, next_widen_at(entry, q, now)) if t is not None]
            if q.announce_every > 0 and entry.line is not None:
                wakes.append(entry.next_announce)
            if not wakes:
                return
            await self.clock.sleep(max(0.0, min(wakes) - now))
            self._kick()  # a widened skill match may now find a seat

    async def _announce(self, entry: QueueEntry) -> None:
        text = await self._announcement(entry)
        if entry.line is not None and entry.state is EntryState.WAITING:
            await entry.line.announce(text)

    async def _time_out(self, entry: QueueEntry) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            position = await self._position(conn, entry)
            gone = await conn.fetchval(
                "DELETE FROM queue_entries WHERE call_id = $1 AND state = 'waiting' RETURNING call_id",
                entry.call_id,
            )
        if gone is None:
            return  # a seat took the caller meanwhile: the offer decides
        self._qevent(
            entry.call_id, entry.queue, K.EXITWITHTIMEOUT, position=position, wait=self._waited(entry)
        )
        self._finish(entry, QueueResult("timeout", entry.ticket_id, None, self._waited(entry)))
