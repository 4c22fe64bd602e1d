"""`ivr audit`: the trail from the store as CSV, filtered by day, actor and action."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from pathlib import Path

from ivr.audit import AuditTrail
from ivr.store import SqliteStore

ROOT = Path(__file__).resolve().parents[2]


async def test_the_command_prints_the_trail(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "hotline.db")
    trail = AuditTrail(store.audit)
    trail.record("seat:1001", "ticket.read", "20261130000001", "10.0.0.7")
    trail.record("supervisor:zhang", "export.csv", "operators", "10.0.0.8", "from=2026-11-30")
    trail.record("seat:1002", "ticket.search", address="10.0.0.9", detail="caller=13900000001")
    await trail.flush()
    await store.close()
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path / "hotline.db"}"\n')
    today = time.strftime("%Y-%m-%d")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ivr.cli",
            "audit",
            "--config",
            str(cfg),
            "--since",
            today,
            "--actor",
            "seat:",
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [(r["actor"], r["action"], r["subject"]) for r in rows] == [
        ("seat:1002", "ticket.search", ""),
        ("seat:1001", "ticket.read", "20261130000001"),
    ]
    assert rows[0]["detail"] == "caller=139****0001" and rows[1]["address"] == "10.0.0.7"
    bad = subprocess.run(
        [sys.executable, "-m", "ivr.cli", "audit", "--config", str(cfg), "--since", "30/11/2026"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0 and "expected a date" in bad.stderr
