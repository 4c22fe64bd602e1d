"""Periodic clean-up: QA recordings past their retention period, delivered outbox rows."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from ivr.store import SESSION_IDLE_SECONDS, Store

log = logging.getLogger(__name__)
OUTBOX_KEEP_SECONDS = 7 * 86400  # delivered messages kept a week for tracing


def prune_recordings(folder: Path, retention_days: int, now: float | None = None) -> int:
    """Delete WAV files older than the retention period; returns how many went. Empty day
    folders are removed too. retention_days <= 0 keeps everything."""
    if retention_days <= 0 or not folder.is_dir():
        return 0
    cutoff = (now if now is not None else time.time()) - retention_days * 86400
    removed = 0
    for wav in folder.rglob("*.wav"):
        try:
            if wav.stat().st_mtime < cutoff:
                wav.unlink()
                removed += 1
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
        leads: Callable[[], bool] = lambda: True,
    ):
        """`leads`: whether this node prunes the (shared) store; its own recordings it always
        prunes, they are on its disk."""
        self.leads = leads
        self.store = store
        self.recordings = recordings
        self.retention_days = retention_days
        self.every = every

    async def run_once(self) -> int:
        removed = await asyncio.to_thread(prune_recordings, self.recordings, self.retention_days)
        if removed:
            log.info("housekeeping: %d recording(s) older than %d days deleted", removed, self.retention_days)
        if not self.leads():
            return removed
        await self.store.outbox_prune(time.time() - OUTBOX_KEEP_SECONDS)
        ended = await self.store.sessions.prune(time.time() - SESSION_IDLE_SECONDS)
        if ended:
            log.info("housekeeping: %d idle console session(s) ended", ended)
        return removed

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("housekeeping failed; trying again next round")
            await asyncio.sleep(self.every)
