"""Conditions for `if` and `switch`: variables, caller, time, weekday, calendar, queue state.

Written in YAML as mappings, never as code, so an admin's typo cannot run anything:
    {var: caller, matches: "^0?10"}          {time: "08:00-20:00"}     {weekday: mon-fri}
    {holiday: true}  {open: true}            {queue: general, metric: waiting, gt: 10}
    {all: [...]}  {any: [...]}  {not: {...}}
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from ivr.flow.calendar import Calendar, TimeRange

Op = Literal["equals", "not_equals", "in", "not_in", "matches", "empty", "gt", "ge", "lt", "le"]
OPS: tuple[Op, ...] = ("equals", "not_equals", "in", "not_in", "matches", "empty", "gt", "ge", "lt", "le")
Metric = Literal["waiting", "free_seats", "estimated_wait"]
METRICS: tuple[Metric, ...] = ("waiting", "free_seats", "estimated_wait")


@dataclass(frozen=True)
class Test:
    """One comparison; `value` is a string, number, bool or a tuple (for in/not_in)."""

    op: Op
    value: object

    def holds(self, actual: object) -> bool:
        match self.op:
            case "empty":
                return (actual in (None, "")) == bool(self.value)
            case "equals":
                return _same(actual, self.value)
            case "not_equals":
                return not _same(actual, self.value)
            case "in":
                return any(_same(actual, v) for v in _as_tuple(self.value))
            case "not_in":
                return not any(_same(actual, v) for v in _as_tuple(self.value))
            case "matches":
                return re.search(str(self.value), "" if actual is None else str(actual)) is not None
        a, b = _number(actual), _number(self.value)
        if a is None or b is None:
            return False
        return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[self.op]


def _as_tuple(v: object) -> tuple[object, ...]:
    return tuple(v) if isinstance(v, list | tuple) else (v,)


def _number(v: object) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    try:
        return float(str(v))
    except ValueError:
        return None


def _same(a: object, b: object) -> bool:
    # Digits typed by a caller are text; admins write numbers unquoted. Compare as text.
    return ("" if a is None else str(a)) == ("" if b is None else str(b)) or a == b


@dataclass(frozen=True)
class VarIs:
    var: str
    test: Test


@dataclass(frozen=True)
class TimeIn:
    ranges: tuple[TimeRange, ...]


@dataclass(frozen=True)
class WeekdayIn:
    days: frozenset[int]  # 0 = Monday


@dataclass(frozen=True)
class CalendarIs:
    what: Literal["holiday", "workday", "open"]
    expected: bool


@dataclass(frozen=True)
class QueueIs:
    queue: str
    metric: Metric
    test: Test


@dataclass(frozen=True)
class AllOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


Condition = VarIs | TimeIn | WeekdayIn | CalendarIs | QueueIs | AllOf | AnyOf | Not


class QueueState(Protocol):
    """Live ACD figures a flow can branch on; the ACD implements it."""

    def waiting(self, queue: str) -> int: ...

    def free_seats(self, queue: str) -> int: ...

    def estimated_wait(self, queue: str) -> float: ...


@dataclass(frozen=True)
class Facts:
    """What a condition may look at, captured at the moment it is evaluated."""

    lookup: Callable[[str], object]  # variable name -> value (None if unset)
    now: dt.datetime
    calendar: Calendar | None
    queues: QueueState | None


def metric(queues: QueueState | None, queue: str, which: Metric) -> float:
    if queues is None:
        return 0.0
    match which:
        case "waiting":
            return float(queues.waiting(queue))
        case "free_seats":
            return float(queues.free_seats(queue))
        case "estimated_wait":
            return float(queues.estimated_wait(queue))


def evaluate(cond: Condition, facts: Facts) -> bool:
    cal = facts.calendar or Calendar.always_open()
    local = cal.local(facts.now)
    match cond:
        case VarIs(var, test):
            return test.holds(facts.lookup(var))
        case TimeIn(ranges):
            return any(r.contains(local.time()) for r in ranges)
        case WeekdayIn(days):
            return local.weekday() in days
        case CalendarIs(what, expected):
            got = {"holiday": cal.is_holiday, "workday": cal.is_workday, "open": cal.is_open}[what](facts.now)
            return got == expected
        case QueueIs(queue, which, test):
            return test.holds(metric(facts.queues, queue, which))
        case AllOf(conds):
            return all(evaluate(c, facts) for c in conds)
        case AnyOf(conds):
            return any(evaluate(c, facts) for c in conds)
        case Not(inner):
            return not evaluate(inner, facts)


def queues_in(cond: Condition) -> list[str]:
    """Queue names a condition refers to (the checker verifies them against config)."""
    match cond:
        case QueueIs(queue, _, _):
            return [queue]
        case AllOf(conds) | AnyOf(conds):
            return [q for c in conds for q in queues_in(c)]
        case Not(inner):
            return queues_in(inner)
        case _:
            return []


def uses_calendar(cond: Condition) -> bool:
    match cond:
        case CalendarIs():
            return True
        case AllOf(conds) | AnyOf(conds):
            return any(uses_calendar(c) for c in conds)
        case Not(inner):
            return uses_calendar(inner)
        case _:
            return False


Lookup = Mapping[str, object]
