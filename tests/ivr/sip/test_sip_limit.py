"""A line at its call limit answers 503 with Retry-After (a proxy in front fails over on it),
never pjsua's own 486 Busy Here, which would end the caller's attempt."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sip_peers import free_port, serve, sipp, write_config

pytestmark = pytest.mark.sip


def test_the_call_past_the_limit_gets_503_with_retry_after(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "config.toml", sip_port=free_port())
    cfg.write_text(cfg.read_text().replace("max_calls = 1000", "max_calls = 2"))
    with serve(cfg) as server:
        server.wait_log("real call limit 2")
        # three callers at once, each about 9 s long (uac_pcap plays its capture, then BYE)
        res = sipp("uac_pcap", f"127.0.0.1:{server.port}", tmp_path, "-m", "3", "-r", "20", "-l", "3")
        log = server.wait_log("rejected with 503")
        deadline = time.monotonic() + 5
        while log.count("ended after") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            log = server.log_text()
    errors = "".join(p.read_text(errors="replace") for p in tmp_path.glob("uac_pcap_*_errors.log"))
    assert res.returncode != 0  # one of the three failed ...
    assert "SIP/2.0 503" in errors and "Retry-After: 5" in errors, errors[-2000:]  # ... with 503
    assert "SIP/2.0 486" not in errors
    assert log.count("rejected with 503") == 1
    assert log.count("ended after") == 2  # the two within the limit were answered and ran
