"""Which INVITEs the node takes (ivr.sip.admission), without SIP: the verdicts and their log."""

from __future__ import annotations

import logging

import pytest

from ivr.sip.admission import Admission


def test_trunk_addresses_duplicates_and_the_call_limit() -> None:
    a = Admission(("127.0.0.1",), overload_ms=500, retry_after=5)
    assert a.verdict("10.0.0.9:5060", "12345", duplicate=False, calls=0, limit=10) == 403
    assert a.verdict("127.0.0.1:5060", "12345", duplicate=True, calls=0, limit=10) == 482
    assert a.verdict("127.0.0.1:5060", "12345", duplicate=False, calls=10, limit=10) == 503
    assert a.verdict("127.0.0.1:5060", "12345", duplicate=False, calls=9, limit=10) == 0
    assert a.rejected == 1  # only 503s count: they are what a burst produces


def test_overload_refuses_only_after_the_sip_thread_kept_behind() -> None:
    a = Admission(None, overload_ms=500, retry_after=5)
    a.behind(0.3)  # behind, but not for long: calls are still answered in time
    assert a.verdict("127.0.0.1:5060", "12345", duplicate=False, calls=0, limit=10) == 0
    a.behind(0.6)
    assert a.verdict("127.0.0.1:5060", "12345", duplicate=False, calls=0, limit=10) == 503
    off = Admission(None, overload_ms=0, retry_after=5)
    off.behind(10.0)
    assert off.verdict("127.0.0.1:5060", "12345", duplicate=False, calls=0, limit=10) == 0


def test_a_burst_of_503s_is_one_log_line_with_its_count(caplog: pytest.LogCaptureFixture) -> None:
    a = Admission(None, overload_ms=500, retry_after=5)
    with caplog.at_level(logging.WARNING, "ivr.sip.engine"):
        for _ in range(300):
            a.verdict("127.0.0.1:5060", "12345", duplicate=False, calls=10, limit=10)
    assert a.rejected == 300
    assert len([r for r in caplog.records if "rejected with 503" in r.getMessage()]) == 1
