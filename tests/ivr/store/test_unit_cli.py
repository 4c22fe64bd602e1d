"""`ivr unit` as an admin runs it: a real subprocess against a SQLite store."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from ivr.passwords import check_password


def _ivr(tmp: Path, *args: str, password: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IVR_UNIT_PASSWORD": password}
    cmd = [sys.executable, "-m", "ivr.cli", "unit", "--config", str(tmp / "c.toml"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60, check=False)


def test_units_and_staff_from_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text('[store]\npath = "db/h.db"\n')
    assert _ivr(tmp_path, "add", "cy-cgw", "朝阳区城管委", "--district", "朝阳区").returncode == 0
    short = _ivr(tmp_path, "staff", "wang", "--unit", "cy-cgw", password="short")
    assert short.returncode == 2 and "8 characters" in short.stderr
    unknown = _ivr(tmp_path, "staff", "li", "--unit", "nope", password="longenough1")
    assert unknown.returncode == 2 and "no unit 'nope'" in unknown.stderr
    assert (
        _ivr(tmp_path, "staff", "wang", "--unit", "cy-cgw", "--name", "王", password="longenough1").returncode
        == 0
    )
    listed = _ivr(tmp_path, "list")
    assert listed.stdout.split("\n")[0].split("\t") == ["cy-cgw", "朝阳区城管委", "委办局", "朝阳区"]
    with sqlite3.connect(tmp_path / "db" / "h.db") as db:
        (stored,) = db.execute("SELECT password_hash FROM unit_staff WHERE login = 'wang'").fetchone()
    assert "longenough1" not in stored and check_password("longenough1", stored)
