"""`ivr demo --json`: the whole path in one command, reported as one JSON object."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.sip


def test_demo_reports_the_run(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ivr.cli",
            "demo",
            "--callers",
            "5",
            "--seats",
            "2",
            "--duration",
            "90",
            "--talk",
            "5",
            "--workdir",
            str(tmp_path / "demo"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    for key in (
        "calls_total",
        "calls_answered",
        "calls_abandoned",
        "tickets_created",
        "service_level",
        "asa_seconds",
        "abandon_rate",
    ):
        assert key in report, key
    assert report["calls_total"] == 5
    assert report["calls_reached_line"] == 5
    assert 1 <= report["calls_answered"] <= 5
    assert report["calls_answered"] + report["calls_abandoned"] <= report["calls_queued"]
    # every call an operator answered got a ticket and a screen pop, and the consoles filed them
    assert report["tickets_created"] >= report["calls_answered"]
    assert report["screen_pops"] >= report["calls_answered"]
    assert sum(report["categories"].values()) == report["tickets_filed_by_operators"] >= 1
    assert 0.0 <= report["service_level"] <= 1.0 and report["asa_seconds"] >= 0
    assert Path(report["database"]).is_file()
    assert "demo: t=" in out.stderr  # progress while it runs
