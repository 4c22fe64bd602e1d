"""Business hours, holidays and 调休 make-up days."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ivr.flow.calendar import Calendar, TimeRange, from_data, parse_days
from ivr.flow.checker import load_calendar

from .conftest import at


def cal(**raw: object) -> Calendar:
    return from_data(raw, "test")


def test_weekly_hours_with_lunch_break() -> None:
    c = cal(hours={"mon-fri": ["08:30-12:00", "13:00-17:30"]})
    assert c.is_open(at("2025-03-04 08:30")) and not c.is_open(at("2025-03-04 08:29"))
    assert not c.is_open(at("2025-03-04 12:30")) and c.is_open(at("2025-03-04 17:29"))
    assert not c.is_open(at("2025-03-08 10:00"))  # Saturday


def test_holiday_range_holiday_hours_and_makeup_workday() -> None:
    c = cal(
        hours={"mon-fri": ["08:00-18:00"]},
        holidays={"2025-10-01..2025-10-08": "国庆节"},
        holiday_hours=["09:00-12:00"],
        workdays={"2025-09-28": "调休"},
    )
    assert c.is_holiday(at("2025-10-08 10:00")) and not c.is_holiday(at("2025-10-09 10:00"))
    assert c.holiday_name(at("2025-10-03 10:00")) == "国庆节"
    assert c.is_open(at("2025-10-03 10:00")) and not c.is_open(at("2025-10-03 13:00"))
    assert c.is_workday(at("2025-09-28 10:00")) and c.is_open(at("2025-09-28 10:00"))  # a Sunday
    assert not c.is_workday(at("2025-10-06 10:00"))  # a Monday inside the holiday


def test_range_over_midnight_belongs_to_the_day_it_starts() -> None:
    c = cal(hours={"fri": ["20:00-02:00"]})
    assert c.is_open(at("2025-03-07 23:00")) and c.is_open(at("2025-03-08 01:30"))
    assert not c.is_open(at("2025-03-08 02:00")) and not c.is_open(at("2025-03-07 19:59"))


def test_timezone_conversion() -> None:
    c = cal(timezone="Asia/Shanghai", hours={"mon-sun": ["08:00-22:00"]})
    utc = dt.datetime(2025, 3, 4, 1, 0, tzinfo=dt.UTC)  # 09:00 in Beijing
    assert c.is_open(utc) and not c.is_open(utc.replace(hour=15))  # 23:00 in Beijing


def test_always_open_and_24_hours() -> None:
    assert Calendar.always_open().is_open(at("2025-01-01 03:00"))
    assert TimeRange.parse("00:00-24:00").contains(dt.time(23, 59))


def test_24x7_roster_from_a_file_covers_holidays_and_midnight() -> None:
    c = cal(
        hours={"mon-sun": ["00:00-24:00"]}, holidays={"2025-10-01": "国庆节"}, holiday_hours="00:00-24:00"
    )
    for t in ("2025-03-04 00:00", "2025-03-04 23:59", "2025-03-08 12:00", "2025-10-01 03:00"):
        assert c.is_open(at(t)), t
    assert str(c.weekly[6][0]) == "00:00-24:00" and c.holiday_name(at("2025-10-01 03:00")) == "国庆节"
    for bad in ("00:00-24:30", "24:00-08:00", "00:00-00:00"):
        with pytest.raises(ValueError):
            TimeRange.parse(bad)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"hours": {"mon-fri": ["8-18"]}}, "HH:MM-HH:MM"),
        ({"hours": {"mon-fri": ["08:00-25:00"]}}, "impossible"),
        ({"hours": {"monday-frday": ["08:00-18:00"]}}, "weekday"),
        ({"holidays": {"2025-13-01": "x"}}, "holidays"),
        ({"timezone": "Mars/Base"}, "unknown timezone"),
        ({"hourz": {}}, "unknown key"),
        ({"holidays": {"2025-10-08..2025-10-01": "x"}}, "backwards"),
    ],
)
def test_bad_calendars_say_what_is_wrong(raw: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        from_data(raw, "test")


def test_day_specs() -> None:
    assert parse_days("mon-fri") == frozenset(range(5))
    assert parse_days("sat-mon") == frozenset({5, 6, 0})
    assert parse_days([1, 7]) == frozenset({0, 6})
    assert parse_days("Tuesday") == frozenset({1})


def test_working_days_skip_weekends_and_holidays_and_count_make_up_days() -> None:
    c = cal(
        holidays={"2026-10-01..2026-10-07": "国庆节"},
        workdays={"2026-09-20": "国庆节调休", "2026-10-10": "国庆节调休"},
    )
    # dispatched on Friday the 18th: Saturday rests, the make-up Sunday and Mon 21 .. Thu 24 count
    assert c.after_workdays(at("2026-09-18 09:00"), 5) == at("2026-09-25 00:00")
    # a week later, an ordinary weekend: Mon 28, Tue 29, Wed 30, then the holiday till the 7th,
    # Thu 8 and Fri 9
    assert c.after_workdays(at("2026-09-25 09:00"), 5) == at("2026-10-10 00:00")
    # dispatched on Saturday the 19th: Sunday the 20th is a make-up working day and counts
    assert c.after_workdays(at("2026-09-19 09:00"), 1) == at("2026-09-21 00:00")
    # across National Day: Tue 29, Wed 30, then the holiday (1-7 Oct) and Thursday the 8th
    assert c.after_workdays(at("2026-09-28 15:00"), 3) == at("2026-10-09 00:00")
    # the make-up Saturday after it counts: Thu 8, Fri 9, Sat 10
    assert c.after_workdays(at("2026-10-07 15:00"), 3) == at("2026-10-11 00:00")


def test_shipped_holiday_file_covers_2026_and_warns_for_2027() -> None:
    c, problem = load_calendar(Path(__file__).resolve().parents[3] / "flows" / "calendar" / "12345.yaml")
    assert problem is None and c is not None
    for day in (
        "2026-01-01",
        "2026-02-15",
        "2026-02-23",
        "2026-04-06",
        "2026-05-05",
        "2026-06-19",
        "2026-09-25",
    ):
        assert c.is_holiday(at(f"{day} 10:00")), day
    assert c.holiday_name(at("2026-10-07 10:00")) == "国庆节" and not c.is_holiday(at("2026-10-08 10:00"))
    for day in c.workdays:  # a make-up working day is always a Saturday or Sunday
        assert day.weekday() >= 5, day
    assert {d.isoformat() for d in c.workdays if d.year == 2026} == {
        "2026-01-04",
        "2026-02-14",
        "2026-02-28",
        "2026-05-09",
        "2026-09-20",
        "2026-10-10",
    }
    assert c.uncovered(at("2026-06-01 10:00").date(), 60) is None
    # 2027 is listed before its official notice: covered, but marked provisional
    assert c.uncovered(at("2026-11-30 10:00").date(), 60) is None
    assert c.provisional_in(at("2026-11-30 10:00").date(), 60) == 2027
    assert c.provisional_in(at("2026-06-01 10:00").date(), 60) is None
    assert c.is_holiday(at("2027-01-01 10:00")) and c.is_workday(at("2027-01-31 10:00"))
    assert c.uncovered(at("2027-11-30 10:00").date(), 60) == at("2028-01-01 00:00").date()
