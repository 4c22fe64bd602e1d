"""The calls table (CDR) as a call goes, not only when it ends: the row is written when the call
is answered (open: no `ended_at`), again when an operator takes it (queue, seat, ticket, QA
recording) and a last time when it ends. A caller hanging up on the operator used to leave a row
with empty seat and ticket (the queue's result never came back to a flow that was cancelled), and
a crash left no row at all; an open row is what ivr.recovery closes at the next start.

Loop side only; each line (`node`, its MQTT client id) writes its own rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import replace

from ivr.records import CallRecord, Offer
from ivr.store import Store

log = logging.getLogger(__name__)


class CallRows:
    def __init__(self, store: Store, node: str) -> None:
        self._store = store
        self.node = node
        self._rows: dict[str, CallRecord] = {}  # rows of live calls, by call id
        self._writes: dict[str, asyncio.Future[None]] = {}  # each call's latest write, in order

    def open(self, call_id: str, caller: str, dialled: str, started_at: float) -> None:
        row = CallRecord(call_id, caller, started_at, dialled, answered_at=started_at, node=self.node)
        self._save(row)

    def connected(self, offer: Offer, recording: str) -> None:
        """An operator took the call: from now on its row names them."""
        row = self._rows.get(offer.call_id)
        if row is not None:
            seat, ticket = offer.seat_id, offer.ticket_id
            self._save(replace(row, queue=offer.queue, seat_id=seat, ticket_id=ticket, recording=recording))

    async def close(
        self,
        call_id: str,
        *,
        flow: str,
        path: tuple[str, ...],
        outcome: str,
        queue: str,
        seat_id: str,
        ticket_id: str,
    ) -> None:
        """The call ended; what the flow learned wins, what the seat line told is kept."""
        row = self._rows.pop(call_id, None)
        if row is None:
            return
        with contextlib.suppress(Exception):  # an earlier write's failure was logged by the store
            await asyncio.shield(self._writes.pop(call_id))
        final = replace(
            row,
            ended_at=time.time(),
            flow=flow,
            path=path,
            outcome=outcome,
            queue=queue or row.queue,
            seat_id=seat_id or row.seat_id,
            ticket_id=ticket_id or row.ticket_id,
        )
        await self._store.save_call(final)

    def _save(self, row: CallRecord) -> None:
        self._rows[row.call_id] = row
        before = self._writes.get(row.call_id)

        async def write() -> None:
            if before is not None:  # one call's rows land in the order they were made
                with contextlib.suppress(Exception):
                    await before
            try:
                await self._store.save_call(row)
            except Exception as exc:
                log.error("call %s: calls row not saved: %s", row.call_id, exc)

        self._writes[row.call_id] = asyncio.ensure_future(write())
