"""Periodic clean-up, and the centre's retention policy carried out: QA recordings past
`[store] recording_retention_days`, the personal fields of closed tickets and of calls past
`[retention] personal_days` (ivr/store/retention.py), the audit trail past `audit_days`,
delivered outbox rows, idle console sessions and old sign-in failure counts. Every deletion of
citizens' data is in the audit trail, as the actor "housekeeping"."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from ivr.audit import AuditTrail
from ivr.policy import RetentionSettings
from ivr.store import SESSION_IDLE_SECONDS, Store

log = logging.getLogger(__name__)
OUTBOX_KEEP_SECONDS = 7 * 86400  # delivered messages kept a week for tracing
ACTOR = "housekeeping"
FORGET_ROUNDS = 100  # batches of tickets forgotten per run (the rest wait for the next run)


def prune_recordings(folder: Path, retention_days: int, now: float | None = None) -> list[str]:
    """Delete WAV files older than the retention period; returns the deleted files (relative to
    `folder`). Empty day folders are removed too. retention_days <= 0 keeps everything."""
    if retention_days <= 0 or not folder.is_dir():
        return []
    cutoff = (now if now is not None else time.time()) - retention_days * 86400
    removed: list[str] = []
    for wav in folder.rglob("*.wav"):
        try:
            if wav.stat().st_mtime < cutoff:
                wav.unlink()
                removed.append(str(wav.relative_to(folder)))
        except OSError as exc:
            log.warning("recording %s not pruned: %s", wav, exc)
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
        try:
            sub.rmdir()  # only succeeds when empty
        except OSError:
            pass
    return removed


class Housekeeping:
    def __init__(
        self,
        store: Store,
        recordings: Path,
        retention_days: int,
        every: float = 6 * 3600,
        *,
        retention: RetentionSettings | None = None,
        idle_seconds: float = SESSION_IDLE_SECONDS,
        leads: Callable[[], bool] = lambda: True,
    ) -> None:
        """`leads`: whether this node prunes the (shared) store; its own recordings it always
        prunes, they are on its disk."""
        self.leads = leads
        self.store = store
        self.recordings = recordings
        self.retention_days = retention_days
        self.retention = retention or RetentionSettings()
        self.every = every
        self.idle_seconds = idle_seconds
        self.audit = AuditTrail(store.audit)

    async def run_once(self) -> int:
        """One round; returns how many recordings went."""
        now = time.time()
        removed = await asyncio.to_thread(prune_recordings, self.recordings, self.retention_days, now)
        for name in removed:
            self.audit.record(
                ACTOR, "recording.delete", name, detail=f"older than {self.retention_days} days"
            )
        if removed:
            log.info(
                "housekeeping: %d recording(s) older than %d days deleted", len(removed), self.retention_days
            )
        if not self.leads():
            await self.audit.flush()
            return len(removed)
        await self._forget(now)
        if self.retention.audit_days > 0:
            await self.store.audit.prune(now - self.retention.audit_days * 86400)
        await self.store.outbox_prune(now - OUTBOX_KEEP_SECONDS)
        ended = await self.store.sessions.prune(now - self.idle_seconds)
        if ended:
            log.info("housekeeping: %d idle console session(s) ended", ended)
        await self.audit.flush()
        return len(removed)

    async def _forget(self, now: float) -> None:
        days = self.retention.personal_days
        if days <= 0:
            return
        cutoff = now - days * 86400
        forgotten = 0
        for _ in range(FORGET_ROUNDS):
            ids = await self.store.personal.forget(cutoff, now)
            for ticket_id in ids:
                self.audit.record(ACTOR, "personal.forget", ticket_id, detail=f"closed over {days} days ago")
            forgotten += len(ids)
            if not ids:
                break
        calls = await self.store.personal.forget_calls(cutoff)
        if calls:
            self.audit.record(
                ACTOR, "personal.forget", "calls", detail=f"{calls} caller numbers of calls without a ticket"
            )
        if forgotten or calls:
            log.info(
                "housekeeping: personal data of %d ticket(s) and %d call(s) past %d days blanked",
                forgotten,
                calls,
                days,
            )

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("housekeeping failed; trying again next round")
            await asyncio.sleep(self.every)
