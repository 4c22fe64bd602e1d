"""`ivr seats` and `ivr teams` as an admin runs them: real subprocesses against a SQLite store."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from ivr.passwords import check_password

CONFIG = """
[store]
path = "db/h.db"
[queues.general]
[queues.urgent]
[[seats]]
id = "1001"
name = "王芳"
uri = "sip:1001@127.0.0.1:5081"
queues = ["general"]
team = "t1"
shift = "白班"
"""


def _ivr(tmp: Path, *args: str, password: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IVR_SEAT_PASSWORD": password}
    cmd = [sys.executable, "-m", "ivr.cli", args[0], "--config", str(tmp / "c.toml"), *args[1:]]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)


def test_a_centre_of_1500_seats_imports_and_a_bad_file_names_its_lines(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text(CONFIG)
    rows = ["id,name,uri,team,leader,shift,skills,queues"]
    shifts = ("白班", "小夜班", "通宵夜班")
    for i in range(1500):
        team = f"{i // 50 + 1}班"  # 30 teams of 50, the first seat of each its leader
        leader = "是" if i % 50 == 0 else ""
        rows.append(
            f"{20000 + i},话务员{i},sip:{20000 + i}@10.1.{i // 250}.{i % 250},{team},{leader},"
            f"{shifts[i % 3]},general:{i % 5 + 1},general;urgent"
        )
    big = tmp_path / "seats.csv"
    big.write_text("\n".join(rows) + "\n", encoding="utf-8")
    done = _ivr(tmp_path, "seats", "import", str(big))
    assert done.returncode == 0, done.stderr
    assert "1500 seats imported" in done.stdout and "new teams: 1班" in done.stdout
    with sqlite3.connect(tmp_path / "db" / "h.db") as db:
        assert db.execute("SELECT COUNT(*) FROM seats WHERE source = 'store'").fetchone()[0] == 1500
        assert db.execute("SELECT COUNT(*) FROM seats WHERE source = 'config'").fetchone()[0] == 1
        leaders = dict(db.execute("SELECT name, leader FROM teams").fetchall())
    assert len(leaders) == 31 and leaders["1班"] == "20000" and leaders["30班"] == "21450"
    assert leaders["t1"] == ""  # config.toml's team, created at the first start

    listed = _ivr(tmp_path, "seats", "list", "--team", "2班").stdout.strip().split("\n")
    assert len(listed) == 50 and listed[0].split("\t")[:4] == [
        "20050",
        "话务员50",
        "sip:20050@10.1.0.50",
        "2班",
    ]

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "id,name,uri,shift\n30001,甲,sip:30001@h,白班\n1001,乙,sip:1001@h,\n30003,丙,sip:x@h,早班\n"
    )
    refused = _ivr(tmp_path, "seats", "import", str(bad))
    assert refused.returncode == 1
    assert "bad.csv:3: id: seat 1001 is defined in config.toml" in refused.stderr
    assert "bad.csv:4: shift: expected one of 白班, 小夜班, 通宵夜班 or empty, got '早班'" in refused.stderr
    assert "2 problem(s); nothing imported" in refused.stderr
    with sqlite3.connect(tmp_path / "db" / "h.db") as db:
        assert db.execute("SELECT COUNT(*) FROM seats WHERE id = '30001'").fetchone()[0] == 0


def test_passwords_and_teams_from_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text(CONFIG)
    csv = tmp_path / "s.csv"
    csv.write_text("id,name,uri,password\n2001,李明,sip:2001@h,op-secret-1\n")
    assert _ivr(tmp_path, "seats", "import", str(csv)).returncode == 0
    assert _ivr(tmp_path, "seats", "password", "2001", password="short").returncode == 2
    config_seat = _ivr(tmp_path, "seats", "password", "1001", password="long-enough-1")
    assert config_seat.returncode == 2 and "config.toml" in config_seat.stderr
    assert _ivr(tmp_path, "seats", "password", "2001", password="new-secret-2").returncode == 0
    with sqlite3.connect(tmp_path / "db" / "h.db") as db:
        (stored,) = db.execute("SELECT password_hash FROM seats WHERE id = '2001'").fetchone()
    assert check_password("new-secret-2", stored) and "new-secret-2" not in stored
    assert _ivr(tmp_path, "teams", "add", "t9", "九班", "--leader", "nobody").returncode == 2
    assert _ivr(tmp_path, "teams", "add", "t9", "九班", "--leader", "2001").returncode == 0
    assert "t9\t九班\t2001\t0 seats" in _ivr(tmp_path, "teams", "list").stdout
