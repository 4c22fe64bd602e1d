"""`ivr doctor`'s deadline calendar check against the shipped holiday file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ivr.config import load, parse
from ivr.doctor import _calendar, run_doctor

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_calendar_covers_2026_but_not_the_60_days_after_30_november() -> None:
    settings = load(ROOT / "config.toml", files=False)
    ok = _calendar(settings, dt.date(2026, 6, 1))
    assert ok.ok and "covers the next 60 days" in ok.detail
    late = _calendar(settings, dt.date(2026, 11, 30))
    assert not late.ok and not late.required
    assert "no holidays for 2027" in late.detail and "12345.yaml" in late.fix


def test_missing_calendar_is_a_warning_and_doctor_prints_it(tmp_path: Path) -> None:
    settings = parse({"deadlines": {"calendar": "nowhere.yaml"}}, tmp_path / "c.toml")
    check = _calendar(settings, dt.date(2026, 11, 30))
    assert not check.ok and "not found" in check.detail and "Monday to Friday" in check.detail
    lines: list[str] = []
    run_doctor(settings, lines.append, today=dt.date(2026, 11, 30))
    assert any(line.startswith("[warn] deadline calendar:") for line in lines)
