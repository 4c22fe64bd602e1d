"""Crash and restart lose nothing, over real processes: `ivr serve` on a SQLite file, a citizen
(`ivr call`) put through to an operator (`ivr seat`), the line killed with SIGKILL mid-call and
started again; a second line on the same database refused; a caller hanging up on the operator
leaves a calls row naming seat and ticket."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
import time
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sip_peers import IVR, ROOT, Server, call, free_port, seat_phone, serve, write_config

pytestmark = pytest.mark.sip
CITIZEN = "13800138000"


def until(what: Callable[[], Any], timeout: float, step: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(step)
    raise AssertionError(f"not within {timeout} s")


def line_config(tmp_path: Path, seat_port: int) -> Path:
    extra = f"""
[queues.general]
wrapup_seconds = 2
announce_every = 0
[queues.urgent]
announce_every = 0
[[seats]]
id = "1001"
name = "王芳"
uri = "sip:1001@127.0.0.1:{seat_port}"
queues = ["general", "urgent"]
password = "s3cret"
"""
    return write_config(tmp_path / "config.toml", sip_port=free_port(), extra=extra)


def operator_ready(console: str) -> None:
    base = console.rstrip("/")
    token = httpx.post(f"{base}/api/login", json={"seat_id": "1001", "password": "s3cret"}, timeout=10)
    assert token.status_code == 200, token.text
    auth = {"authorization": f"Bearer {token.json()['token']}"}
    r = httpx.post(f"{base}/api/seats/1001/state", json={"action": "login"}, headers=auth, timeout=10)
    assert r.status_code == 200, r.text


@contextmanager
def citizen(uri: str, script: str) -> Iterator[dict[str, Any]]:
    report: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: report.update(call(uri, script, caller=CITIZEN, timeout=60)))
    thread.start()
    try:
        yield report
    finally:
        thread.join(120)


def hang_up(phone: subprocess.Popen[str]) -> None:
    phone.terminate()
    phone.communicate(timeout=10)


def rows(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def test_sigkill_mid_call_then_restart_recovers_the_call_its_recording_and_the_link(tmp_path: Path) -> None:
    seat_port = free_port()
    cfg = line_config(tmp_path, seat_port)
    db = tmp_path / "hotline.db"
    broker_dir = tmp_path / "hotline-mosquitto"
    phone = seat_phone("1001", seat_port, answer_after=0.5, max_calls=2, duration=150)
    try:
        with serve(cfg, duration=120) as first:
            operator_ready(first.console)
            with citizen(first.uri, "wait 4; dtmf 0; wait 40"):
                first.wait_log("connected to seat 1001", timeout=40)
                time.sleep(3)  # a few seconds of conversation in the recording
                orphan = int((broker_dir / "mosquitto.pid").read_text())
                port = int((broker_dir / "mosquitto.conf").read_text().split("listener ", 1)[1].split()[0])
                first.proc.send_signal(signal.SIGKILL)
                first.proc.wait(10)
                # what the crash left: an open row, a recording with a 0-size header, the broker
                (call_id, seat, ticket, recording, ended) = rows(
                    db, "SELECT call_id, seat_id, ticket_id, recording, ended_at FROM calls"
                )[0]
                assert (seat, ended) == ("1001", None) and ticket and recording
                assert Path(f"/proc/{orphan}").exists()
                with pytest.raises(wave.Error):  # its header says 0 bytes: not a WAVE file
                    wave.open(recording, "rb")

                with serve(cfg, duration=60) as second:
                    log = second.wait_log("recovered from a crash")
                    assert (
                        "1 calls closed as crashed, 1 queue entries, 1 recordings repaired, 1 linked" in log
                    )
                    # the orphaned broker is gone, the new one listens where the consoles knew it
                    until(lambda: not Path(f"/proc/{orphan}").exists(), 10)
                    new_pid = int((broker_dir / "mosquitto.pid").read_text())
                    assert new_pid != orphan
                    assert f"listener {port} " in (broker_dir / "mosquitto.conf").read_text()
                    operator_ready(second.console)  # consoles sign in again on the same broker
                    text = second.log_text()
                assert "Traceback" not in text
    finally:
        hang_up(phone)

    (outcome, seat, ticket, ended, started) = rows(
        db, "SELECT outcome, seat_id, ticket_id, ended_at, started_at FROM calls WHERE call_id = ?", call_id
    )[0]
    assert (outcome, seat) == ("crashed", "1001") and ticket and ended >= started
    with wave.open(recording, "rb") as w:
        assert w.getnframes() >= w.getframerate() * 2  # the seconds before the crash are there
    (context,) = rows(db, "SELECT context FROM tickets WHERE id = ?", ticket)[0]
    assert recording in context
    kinds = [k for (k,) in rows(db, "SELECT kind FROM queue_events WHERE call_id = ? ORDER BY id", call_id)]
    assert kinds[-2:] == ["CONNECT", "CRASHED"]


def test_a_second_line_on_the_same_database_is_refused_naming_the_first(tmp_path: Path) -> None:
    cfg = line_config(tmp_path, free_port())
    with serve(cfg, duration=60) as first:
        other = cfg.with_name("other.toml")
        text = cfg.read_text()
        port_line = next(line for line in text.splitlines() if line.startswith("port"))
        other.write_text(text.replace(port_line, f"port = {free_port()}", 1))
        second = subprocess.run(
            [*IVR, "serve", "--config", str(other), "--duration", "20"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            check=False,
        )
        assert second.returncode != 0
        assert f"pid {first.proc.pid}" in second.stderr, second.stderr[-2000:]
        assert first.proc.poll() is None  # the first line runs on untouched
        assert os.path.exists(tmp_path / "hotline.db.lock")


def test_a_caller_hanging_up_on_the_operator_leaves_seat_and_ticket_in_the_calls_row(tmp_path: Path) -> None:
    seat_port = free_port()
    cfg = line_config(tmp_path, seat_port)
    phone = seat_phone("1001", seat_port, answer_after=0.5, max_calls=1, duration=90)
    server: Server
    try:
        with serve(cfg, duration=80) as server:
            operator_ready(server.console)
            with citizen(server.uri, "wait 4; dtmf 0; wait 9"):  # hangs up while talking
                server.wait_log("connected to seat 1001", timeout=40)
            server.wait_log("ended after", timeout=20)
            time.sleep(0.5)
    finally:
        hang_up(phone)
    (outcome, seat, ticket, recording) = rows(
        tmp_path / "hotline.db", "SELECT outcome, seat_id, ticket_id, recording FROM calls"
    )[0]
    assert outcome == "caller_hangup"
    assert seat == "1001" and ticket and recording
