"""Business hours, holidays and 调休 make-up days."""

from __future__ import annotations

import datetime as dt

import pytest

from ivr.flow.calendar import Calendar, TimeRange, from_data, parse_days

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
