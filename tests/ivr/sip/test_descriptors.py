"""The open-file limit against the call limit (ivr.sip.descriptors), on a real `ivr serve`
started under a given RLIMIT_NOFILE: raised when the hard limit allows, else the call limit
lowered and said, so callers are never answered and then dropped for want of sockets."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest
from sip_peers import free_port, serve, sipp, write_config

from ivr.sip.descriptors import PER_CALL, RESERVED, needed

pytestmark = pytest.mark.sip


def test_the_soft_limit_is_raised_toward_the_hard_one(tmp_path: Path) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]  # this test's own: it may not raise it
    if hard != resource.RLIM_INFINITY and hard < needed(1000):
        pytest.skip(f"the hard open-file limit here ({hard}) is below what 1000 calls need")
    cfg = write_config(tmp_path / "config.toml", sip_port=free_port())
    with serve(cfg, open_files=(256, hard)) as server:
        log = server.wait_log("real call limit")
    assert f"open-file limit raised from 256 to {needed(1000)} for 1000 calls" in log
    assert "real call limit 1000" in log


def test_a_low_hard_limit_lowers_the_call_limit_and_says_so(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "config.toml", sip_port=free_port())
    hard = RESERVED + PER_CALL * 10 + 3
    with serve(cfg, open_files=(hard, hard)) as server:
        log = server.wait_log("real call limit")
        assert f"open-file limit {hard} (hard {hard}) allows 10 concurrent calls, not 1000" in log
        assert "real call limit 10" in log
        ok = sipp("uac_pcap", f"127.0.0.1:{server.port}", tmp_path, timeout=40)  # the line works
        assert ok.returncode == 0, ok.stderr[-2000:]
        log = server.wait_log("ended after")
    assert "Too many open files" not in log and "Traceback" not in log
