"""No call left hanging: a caller gone without its BYE is ended by the line (RTP inactivity), and
session timers (RFC 4028) are taken up when the trunk offers them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sip_peers import free_port, serve, sipp, write_config

pytestmark = pytest.mark.sip


def test_a_caller_gone_silent_without_bye_is_hung_up(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "config.toml", sip_port=free_port())
    cfg.write_text(cfg.read_text().replace("max_calls = 1000", "max_calls = 1000\nmedia_timeout = 3"))
    with serve(cfg) as server:
        started = time.monotonic()
        res = sipp("caller_gone_silent.xml", f"127.0.0.1:{server.port}", tmp_path, timeout=40)
        took = time.monotonic() - started
        log = server.wait_log("ended after")
    assert res.returncode == 0, res.stdout[-1500:]  # the line sent the BYE sipp waits for
    assert 3 <= took < 20, took  # after the configured 3 s of silence, not the trunk's 30 s
    assert "no RTP for" in log
    assert "Traceback" not in log, log[-3000:]


def test_session_timers_are_taken_up_when_offered(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "config.toml", sip_port=free_port())
    with serve(cfg) as server:
        res = sipp("caller_session_timer.xml", f"127.0.0.1:{server.port}", tmp_path, timeout=30)
        log = server.wait_log("ended after")
    assert res.returncode == 0, res.stdout[-1500:]  # the 200 OK carried Session-Expires
    assert "Traceback" not in log, log[-3000:]
