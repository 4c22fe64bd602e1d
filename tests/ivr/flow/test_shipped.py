"""The shipped flows/: a 24x7 main line whose calendar can still close it, an office-hours special line."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import yaml

from ivr.flow.calendar import Calendar
from ivr.flow.checker import load_calendar
from ivr.flow.library import FlowLibrary
from ivr.flow.script import run_case
from ivr.flow.services import FlowServices

from .conftest import QUEUES, at

FLOWS = Path(__file__).parents[3] / "flows"


def calendar(name: str) -> Calendar:
    got, err = load_calendar(FLOWS / "calendar" / name)
    assert got is not None, err
    return got


def test_main_line_operators_are_on_duty_around_the_clock() -> None:
    c = calendar("12345.yaml")
    for day in ("2025-03-04", "2025-03-08", "2025-10-02", "2025-01-29"):  # weekday, weekend, holidays
        assert all(c.is_open(at(f"{day} {h:02d}:{m:02d}")) for h in range(24) for m in (0, 59)), day
    assert c.holiday_name(at("2025-10-02 03:00")) == "国庆节、中秋节"
    assert c.is_workday(at("2025-09-28 10:00")) and not c.is_workday(at("2025-10-06 10:00"))


def test_office_hours_calendar() -> None:
    c = calendar("office-hours.yaml")
    assert c.is_open(at("2025-03-04 08:30")) and c.is_open(at("2025-03-04 17:29"))
    assert not c.is_open(at("2025-03-04 08:29")) and not c.is_open(at("2025-03-04 17:30"))
    assert not c.is_open(at("2025-03-08 10:00")) and not c.is_open(at("2025-10-06 10:00"))  # Sat, holiday Mon
    assert c.is_open(at("2025-09-28 10:00"))  # 调休 Sunday
    main = calendar("12345.yaml")  # the two lists are kept by hand: they must not drift apart
    assert c.holidays == main.holidays and c.workdays == main.workdays
    assert c.provisional == main.provisional == {2027}


async def test_main_without_a_night_shift_takes_messages(tmp_path: Path) -> None:
    """A centre staffed 08:00-22:00 edits only the calendar; main.yaml's closed path takes over."""
    folder = tmp_path / "flows"
    shutil.copytree(FLOWS, folder, ignore=shutil.ignore_patterns("*.md"))
    roster = folder / "calendar" / "12345.yaml"
    raw = yaml.safe_load(roster.read_text(encoding="utf-8"))
    raw.update(hours={"mon-sun": ["08:00-22:00"]}, holiday_hours=["09:00-17:00"])
    roster.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    lib = FlowLibrary(folder, queues=QUEUES)
    assert lib.load() == []
    cases: list[dict[str, Any]] = [
        {
            "time": "2025-03-04 23:30",
            "steps": ["3", "record 45"],
            "expect": {
                "path": ["route_call", "closed_why", "after_hours", "leave_message", "message_done"],
                "not_path": ["operator"],
                "tickets": 1,
            },
        },
        {
            "time": "2025-10-02 18:00",
            "steps": ["1", "record 20"],
            "expect": {
                "path": ["closed_why", "holiday_notice", "leave_message", "message_done_rest_day"],
                "vars": {"holiday": "国庆节、中秋节"},
            },
        },
        {
            "time": "2025-10-02 10:00",
            "steps": ["1", "queue completed"],
            "expect": {"path": ["route_call", "busy_check", "operator"], "not_path": ["closed_why"]},
        },
    ]
    services = FlowServices(recordings=tmp_path / "recordings")
    for case in cases:
        report = await run_case(lib.snapshot, "main", {"name": case["time"], **case}, io.StringIO(), services)
        assert report.passed, (case["time"], report.failures)
