"""[deadlines], [followup] and [webhook] checked like every section (ivr/aftercall.py): every
problem with its section and key, and the shipped config.toml loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.config import ConfigError, load, parse

ROOT = Path(__file__).resolve().parents[2]


def test_every_problem_named_with_section_and_key(tmp_path: Path) -> None:
    raw = {
        "deadlines": {"urgent_hours": 0, "categories": {"城市管理": "3w"}, "bogus": 1},
        "followup": {"trunk": "gateway", "hours": ["25:00-26:00"], "max_attempts": 0},
        "webhook": {"url": "ftp://x"},
    }
    with pytest.raises(ConfigError) as err:
        parse(raw, tmp_path / "c.toml")
    text = "\n".join(err.value.problems)
    for needle in (
        "[deadlines] bogus: unknown key",
        "[deadlines] urgent_hours: expected a number of hours > 0",
        "[deadlines] categories: expected a table of category paths",
        '[followup] trunk: expected a "host:port"',
        "[followup] hours: expected a list such as",
        "[followup] max_attempts: expected an integer >= 1",
        "[webhook] url: expected an http:// or https:// URL",
    ):
        assert needle in text, needle
    with pytest.raises(ConfigError) as err:
        parse({"webhook": {"url": "https://dispatch.example/hook"}}, tmp_path / "c.toml")
    assert "[webhook] secret: expected a shared secret" in err.value.problems[0]


def test_shipped_config_has_the_after_call_sections() -> None:
    s = load(ROOT / "config.toml", files=False)
    assert s.deadlines.normal_workdays == 5 and s.deadlines.calendar.endswith("12345.yaml")
    assert s.followup.trunk == "" and s.followup.hours == ("09:00-12:00", "14:00-20:00")
    assert s.webhook.url == ""
