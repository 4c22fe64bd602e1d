"""The outgoing webhook: every step of every ticket's life (the history entries that name an
event) POSTed to a city's dispatch platform, in order, signed, retried until taken.

Nothing is lost while the other side is down: the sender reads the events from the store after
its cursor (the last history row id the receiver answered 2xx for, kept in the store) and moves
the cursor only past events the receiver took, so a restart resumes where it stopped. Delivery
is at least once: a receiver de-duplicates by `X-Hotline-Delivery` (the history row id).

Each body is JSON `{"delivery", "ticket_id", "event", "note", "actor", "at", "ticket"}` (the
ticket as it is when sent); `X-Hotline-Signature: sha256=<hex HMAC-SHA256 of the body with the
shared secret>` lets the receiver check it came from the centre."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from ivr.records import TicketChange
from ivr.store import Store

log = logging.getLogger(__name__)


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # the admin's URL
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)


class Webhook:
    def __init__(
        self,
        store: Store,
        url: str,
        secret: str,
        *,
        timeout: float = 10.0,
        every: float = 2.0,
        backoff_max: float = 60.0,
        post: Callable[[str, bytes, dict[str, str], float], int] = _post,
    ) -> None:
        self._store = store
        self._url = url
        self._secret = secret
        self._timeout = timeout
        self._every = every
        self._backoff_max = backoff_max
        self._post = post
        self._task: asyncio.Task[None] | None = None
        self.delivered = 0

    async def _body(self, row_id: int, change: TicketChange) -> bytes:
        ticket = await self._store.tickets.get(change.ticket_id)
        doc: dict[str, Any] = {
            "delivery": row_id,
            "ticket_id": change.ticket_id,
            "event": change.event,
            "note": change.note,
            "actor": change.actor,
            "at": change.at,
            "ticket": ticket.as_dict() if ticket is not None else None,
        }
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()

    async def send_pending(self, limit: int = 100) -> int:
        """Deliver what waits, in order, stopping at the first refusal; returns how many went."""
        sent = 0
        cursor = await self._store.tickets.cursor(self._url)
        for row_id, change in await self._store.tickets.events_after(cursor, limit):
            body = await self._body(row_id, change)
            headers = {
                "content-type": "application/json; charset=utf-8",
                "x-hotline-delivery": str(row_id),
                "x-hotline-event": change.event,
                "x-hotline-signature": signature(self._secret, body),
            }
            try:
                status = await asyncio.to_thread(self._post, self._url, body, headers, self._timeout)
            except OSError as exc:  # refused, unreachable, timed out: try again later
                log.warning("webhook %s: event %d not delivered: %s", self._url, row_id, exc)
                break
            if not 200 <= status < 300:
                log.warning("webhook %s: event %d answered %d; retrying later", self._url, row_id, status)
                break
            await self._store.tickets.set_cursor(self._url, row_id)
            sent += 1
        self.delivered += sent
        return sent

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="webhook")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        delay = self._every
        while True:
            try:
                await self.send_pending()
                behind = await self._store.tickets.events_after(
                    await self._store.tickets.cursor(self._url), 1
                )
                # caught up: poll at the normal pace; still behind after a refusal: back off
                delay = self._every if not behind else min(self._backoff_max, delay * 2)
            except Exception:
                log.exception("webhook %s: delivery round failed", self._url)
                delay = min(self._backoff_max, delay * 2)
            await asyncio.sleep(delay)
