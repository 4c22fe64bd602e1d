"""Business hours and the holiday calendar (法定节假日 and 调休 make-up working days).

A calendar file, e.g. flows/calendar/12345.yaml:

    timezone: Asia/Shanghai
    hours:                       # weekly opening hours; a day not listed is closed
      mon-fri: ["08:00-12:00", "13:00-22:00"]
      sat-sun: ["00:00-24:00"]   # the whole day; "22:00-02:00" would run past midnight
    holidays:                    # closed (or `holiday_hours`) on these dates
      "2025-10-01..2025-10-08": 国庆节
    holiday_hours: []            # e.g. ["09:00-12:00"] for a short holiday service
    workdays:                    # weekend dates worked as weekdays (调休); Monday's hours apply
      "2025-09-28": 国庆调休
    provisional: [2027]          # years entered before the official notice (best-known schedule)
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
CHINA = dt.timezone(dt.timedelta(hours=8), "CST")


@dataclass(frozen=True)
class TimeRange:
    """[start, end) in minutes of the day; end may be 1440 ("24:00"); start > end wraps midnight."""

    start: int
    end: int

    @classmethod
    def parse(cls, text: str) -> TimeRange:
        m = _TIME.match(text)
        if not m:
            raise ValueError(f"time range {text!r} is not HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(f"time range {text!r} has an impossible time")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if start == end:
            raise ValueError(f"time range {text!r} is empty")
        return cls(start, end)

    def contains(self, t: dt.time) -> bool:
        m = t.hour * 60 + t.minute
        if self.start < self.end:
            return self.start <= m < self.end
        return m >= self.start or m < self.end

    def __str__(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"


def parse_days(spec: object) -> frozenset[int]:
    """ "mon-fri", "sat", ["mon", "wed"], [1, 7] (ISO numbers) -> weekday indexes (0 = Monday)."""
    parts: list[object] = list(spec) if isinstance(spec, list | tuple) else list(str(spec).split(","))
    days: set[int] = set()
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            if not 1 <= part <= 7:
                raise ValueError(f"weekday number {part} is not 1 (Monday) .. 7 (Sunday)")
            days.add(part - 1)
            continue
        text = str(part).strip().lower()[:7]
        if "-" in text:
            a, b = (x.strip()[:3] for x in text.split("-", 1))
            if a not in DAYS or b not in DAYS:
                raise ValueError(f"weekday range {part!r}: use mon, tue, wed, thu, fri, sat, sun")
            i, j = DAYS.index(a), DAYS.index(b)
            days.update(range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)])
        elif text[:3] in DAYS:
            days.add(DAYS.index(text[:3]))
        else:
            raise ValueError(f"unknown weekday {part!r}: use mon, tue, wed, thu, fri, sat, sun")
    return frozenset(days)


def parse_dates(spec: str) -> list[dt.date]:
    """ "2025-10-01" or "2025-10-01..2025-10-08" (inclusive)."""
    if ".." in spec:
        a, b = (dt.date.fromisoformat(x.strip()) for x in spec.split("..", 1))
        if b < a or (b - a).days > 366:
            raise ValueError(f"date range {spec!r} is backwards or longer than a year")
        return [a + dt.timedelta(days=i) for i in range((b - a).days + 1)]
    return [dt.date.fromisoformat(spec.strip())]


@dataclass(frozen=True)
class Calendar:
    tz: dt.tzinfo = CHINA
    weekly: Mapping[int, tuple[TimeRange, ...]] = field(default_factory=dict)
    holidays: Mapping[dt.date, str] = field(default_factory=dict)
    workdays: Mapping[dt.date, str] = field(default_factory=dict)
    holiday_hours: tuple[TimeRange, ...] = ()
    source: str = ""
    provisional: frozenset[int] = frozenset()  # years whose schedule is not yet the official one

    @classmethod
    def always_open(cls) -> Calendar:
        return cls(weekly={d: (TimeRange(0, 1440),) for d in range(7)}, source="(always open)")

    def local(self, now: dt.datetime) -> dt.datetime:
        return now.astimezone(self.tz) if now.tzinfo else now.replace(tzinfo=self.tz)

    def is_holiday(self, now: dt.datetime) -> bool:
        return self.local(now).date() in self.holidays

    def holiday_name(self, now: dt.datetime) -> str:
        return self.holidays.get(self.local(now).date(), "")

    def is_workday(self, now: dt.datetime) -> bool:
        day = self.local(now).date()
        if day in self.workdays:
            return True
        return day not in self.holidays and day.weekday() < 5

    def hours_on(self, now: dt.datetime) -> tuple[TimeRange, ...]:
        day = self.local(now).date()
        if day in self.holidays:
            return self.holiday_hours
        if day in self.workdays:
            return self.weekly.get(0, ())
        return self.weekly.get(day.weekday(), ())

    def uncovered(self, today: dt.date, days: int) -> dt.date | None:
        """The first of `days` days from `today` that lies in a year with no holidays listed
        (its official schedule not yet entered), or None when all are covered."""
        years = {d.year for d in self.holidays}
        for year in range(today.year, (today + dt.timedelta(days=days)).year + 1):
            if year not in years:
                return max(today, dt.date(year, 1, 1))
        return None

    def provisional_in(self, today: dt.date, days: int) -> int | None:
        """The first year of the next `days` days whose holidays are marked provisional."""
        last = (today + dt.timedelta(days=days)).year
        return next((y for y in range(today.year, last + 1) if y in self.provisional), None)

    def after_workdays(self, start: dt.datetime, n: int) -> dt.datetime:
        """The midnight that ends the `n`-th working day after the day of `start` (that day
        itself does not count, as in "5 working days" from a dispatch), in the calendar's zone.
        Days beyond the holiday list count as ordinary weekdays and weekends."""
        day = self.local(start).date()
        for _ in range(n):
            day += dt.timedelta(days=1)
            for _ in range(60):  # the longest run of rest days is far shorter (Spring Festival: 9)
                if self.is_workday(dt.datetime.combine(day, dt.time(12), self.tz)):
                    break
                day += dt.timedelta(days=1)
        return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), self.tz)

    def is_open(self, now: dt.datetime) -> bool:
        local = self.local(now)
        if any(r.contains(local.time()) for r in self.hours_on(local)):
            return True
        # A range that wraps midnight belongs to the day it started on.
        yesterday = local - dt.timedelta(days=1)
        return any(
            r.start > r.end and local.time().hour * 60 + local.minute < r.end
            for r in self.hours_on(yesterday)
        )


def from_data(raw: object, source: str) -> Calendar:
    """Build a calendar from parsed YAML; raises ValueError with a readable message."""
    if not isinstance(raw, dict):
        raise ValueError("a calendar file must be a mapping with hours, holidays, workdays")
    known = {"timezone", "hours", "holidays", "workdays", "holiday_hours", "description", "provisional"}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    tz: dt.tzinfo = CHINA
    if "timezone" in raw:
        try:
            tz = ZoneInfo(str(raw["timezone"]))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {raw['timezone']!r}") from exc
    weekly: dict[int, tuple[TimeRange, ...]] = {}
    hours = raw.get("hours") or {}
    if not isinstance(hours, dict):
        raise ValueError("hours: must map days (mon-fri, sat, ...) to lists of HH:MM-HH:MM")
    for days, ranges in hours.items():
        parsed = _ranges(ranges, f"hours.{days}")
        for d in parse_days(days):
            weekly[d] = weekly.get(d, ()) + parsed
    return Calendar(
        tz=tz,
        weekly=weekly,
        holidays=_dates(raw.get("holidays"), "holidays"),
        workdays=_dates(raw.get("workdays"), "workdays"),
        holiday_hours=_ranges(raw.get("holiday_hours") or [], "holiday_hours"),
        source=source,
        provisional=_years(raw.get("provisional")),
    )


def _years(value: object) -> frozenset[int]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(y, int) and 1900 < y < 3000 for y in value):
        raise ValueError(f"provisional: expected a list of years such as [2027], got {value!r}")
    return frozenset(value)


def _ranges(value: object, where: str) -> tuple[TimeRange, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError(f"{where}: expected a list of HH:MM-HH:MM")
    try:
        return tuple(TimeRange.parse(str(x)) for x in items)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _dates(value: object, where: str) -> dict[dt.date, str]:
    if value is None:
        return {}
    if isinstance(value, list):  # a bare list of dates, no names
        value = {x: "" for x in value}
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected a mapping of dates to names")
    out: dict[dt.date, str] = {}
    for key, name in value.items():
        try:
            days = [key] if isinstance(key, dt.date) else parse_dates(str(key))
        except ValueError as exc:
            raise ValueError(f"{where}: {key!r}: {exc}") from None
        for d in days:
            out[d] = str(name or "")
    return out
