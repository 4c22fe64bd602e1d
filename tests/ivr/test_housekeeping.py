"""Recording retention and outbox pruning on a real folder and a real SQLite file."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from ivr.housekeeping import Housekeeping, prune_recordings
from ivr.store import SessionRecord, SqliteStore


def _wav(path: Path, age_days: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF0000WAVE")
    t = time.time() - age_days * 86400
    os.utime(path, (t, t))
    return path


def test_only_recordings_past_retention_go(tmp_path: Path) -> None:
    old = _wav(tmp_path / "2025-01-01" / "a.wav", 200)
    recent = _wav(tmp_path / "2025-06-01" / "b.wav", 10)
    assert prune_recordings(tmp_path, 180) == ["2025-01-01/a.wav"]
    assert not old.exists() and recent.exists()
    assert not (tmp_path / "2025-01-01").exists()  # the emptied day folder goes too
    assert prune_recordings(tmp_path, 0) == [] and recent.exists()  # 0 keeps everything


async def test_housekeeping_prunes_recordings_delivered_outbox_and_idle_sessions(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "h.db", now=lambda: time.time() - 30 * 86400)
    try:
        await store.outbox_put("t/old", b"{}")
        items = await store.outbox_pending()
        await store.outbox_delivered([i.id for i in items])
        await store.outbox_put("t/pending", b"{}")
        now = time.time()
        await store.sessions.put(SessionRecord("idle", "seat", "1001", now - 86400, now - 86400))
        await store.sessions.put(SessionRecord("busy", "supervisor", "", now - 86400, now - 60))
        _wav(tmp_path / "rec" / "x.wav", 400)
        removed = await Housekeeping(store, tmp_path / "rec", 180).run_once()
        assert removed == 1
        with sqlite3.connect(store.path) as raw:
            rows = raw.execute("SELECT topic FROM outbox").fetchall()
        assert rows == [("t/pending",)]  # undelivered messages are never pruned
        assert await store.sessions.get("idle") is None and await store.sessions.get("busy") is not None
    finally:
        await store.close()


async def test_the_retention_policy_is_carried_out_and_audited(tmp_path: Path) -> None:
    from ivr.policy import RetentionSettings
    from ivr.store import AuditQuery

    years_ago = time.time() - 4 * 365 * 86400
    store = await SqliteStore.open(tmp_path / "h.db", now=lambda: years_ago)
    try:
        old = await store.tickets.create(
            "13900000001", description="王五反映噪音扰民", address="幸福小区3号楼"
        )
        await store.tickets.update(old.id, {"status": "closed"}, actor="seat:1001")
        wav = _wav(tmp_path / "rec" / "2022-01-01" / f"{old.id}-1.wav", 400)
        keeper = Housekeeping(store, tmp_path / "rec", 180, retention=RetentionSettings(personal_days=1095))
        assert await keeper.run_once() == 1
        assert not wav.exists()
        t = await store.tickets.get(old.id)
        assert t is not None and (t.caller, t.description, t.address) == ("", "", "")
        log = await store.audit.search(AuditQuery(actor="housekeeping"))
        assert {(e.action, e.subject) for e in log} == {
            ("recording.delete", f"2022-01-01/{old.id}-1.wav"),
            ("personal.forget", old.id),
        }
        assert "13900000001" not in repr(log)  # the trail names tickets, never callers
    finally:
        await store.close()
