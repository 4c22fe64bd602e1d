"""Rate-limited log lines (ivr.logflood): the first of a kind at once, the rest counted."""

from __future__ import annotations

import logging

import pytest

from ivr.logflood import Throttle


def test_a_burst_is_one_line_then_one_with_the_count(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    throttle = Throttle(logging.getLogger("flood"), clock=lambda: now[0])
    with caplog.at_level(logging.INFO, "flood"):
        logged = [
            throttle.log(logging.WARNING, "403", "OPTIONS from %s refused", f"10.0.0.{i}") for i in range(500)
        ]
        assert throttle.log(logging.INFO, "501", "MESSAGE answered 501")  # another kind: its own line
        now[0] = 1.5
        throttle.log(logging.WARNING, "403", "OPTIONS from %s refused", "10.0.0.9")
    assert logged.count(True) == 1
    assert [r.getMessage() for r in caplog.records] == [
        "OPTIONS from 10.0.0.0 refused",
        "MESSAGE answered 501",
        "OPTIONS from 10.0.0.9 refused (499 more like it in the last 2 s)",
    ]
