"""Reading `if`/`switch` conditions from YAML (see `ivr.flow.conditions` for the forms)."""

from __future__ import annotations

from typing import Any

from ivr.flow import conditions as c
from ivr.flow import source as src
from ivr.flow.calendar import TimeRange, parse_days
from ivr.flow.model import Pos, Problem

BAD: Any = object()  # a field that failed validation (its problem is already reported)
_FORMS = "var, time, weekday, holiday, workday, open, queue, all, any, not"


class ConditionReader:
    def __init__(self, file: str, flow_name: str | None) -> None:
        self.file = file
        self.flow_name = flow_name
        self.problems: list[Problem] = []
        self.marks: dict[str, Pos] = {}

    def bad(self, y: src.YNode | None, nid: str | None, message: str) -> Any:
        self.problems.append(Problem(self.file, src.pos_of(y), message, "error", nid, self.flow_name))
        return BAD

    def warn(self, y: src.YNode | None, nid: str | None, message: str) -> None:
        self.problems.append(Problem(self.file, src.pos_of(y), message, "warning", nid, self.flow_name))

    def condition(self, y: src.YNode, nid: str | None) -> c.Condition | None:
        if not src.is_map(y):
            self.bad(
                y,
                nid,
                f"a condition is a mapping such as {{var: caller, matches: '^010'}}, got {src.kind(y)}",
            )
            return None
        given = {k: v for k, _, v in src.items(y, self.file, self.problems, self.flow_name)}
        parts: list[c.Condition] = []
        ops: list[str] = [k for k in given if k in c.OPS]
        if "var" in given and "queue" in given:
            self.bad(y, nid, "use var and queue in separate conditions (inside all: [...])")
            return None
        for key, v in given.items():
            part: object = None
            if key in c.OPS or key == "metric":
                continue
            if key in ("all", "any"):
                if not src.is_seq(v) or not v.value:
                    self.bad(v, nid, f"{key}: expected a non-empty list of conditions")
                    return None
                items = [self.condition(x, nid) for x in v.value]
                if any(i is None for i in items):
                    return None
                good = tuple(i for i in items if i is not None)
                part = c.AllOf(good) if key == "all" else c.AnyOf(good)
            elif key == "not":
                inner = self.condition(v, nid)
                part = None if inner is None else c.Not(inner)
            elif key == "var":
                part = self._test(y, v, nid, ops, lambda t, v=v: c.VarIs(str(src.plain(v)), t))
            elif key == "queue":
                part = self._queue(y, v, given.get("metric"), nid, ops)
            elif key == "time":
                part = self._time(v, nid)
            elif key == "weekday":
                try:
                    part = c.WeekdayIn(parse_days(src.plain(v)))
                except ValueError as exc:
                    self.bad(v, nid, str(exc))
            elif key in ("holiday", "workday", "open"):
                value = src.plain(v)
                if not isinstance(value, bool):
                    self.bad(v, nid, f"{key}: expected true or false")
                else:
                    part = c.CalendarIs(key, value)  # type: ignore[arg-type]
            else:
                self.bad(v, nid, f"unknown condition {key!r}; use one of {_FORMS}")
                return None
            if not isinstance(
                part, c.VarIs | c.TimeIn | c.WeekdayIn | c.CalendarIs | c.QueueIs | c.AllOf | c.AnyOf | c.Not
            ):
                return None
            parts.append(part)
        if ops and "var" not in given and "queue" not in given:
            self.bad(y, nid, f"{ops[0]} needs a var: or queue: to compare")
            return None
        if not parts:
            self.bad(y, nid, f"empty condition; use one of {_FORMS}")
            return None
        return parts[0] if len(parts) == 1 else c.AllOf(tuple(parts))

    def _op(self, y: src.YNode, nid: str | None, ops: list[str]) -> c.Test | None:
        if len(ops) != 1:
            self.bad(y, nid, f"give exactly one comparison of {', '.join(c.OPS)} (got {len(ops)})")
            return None
        op = ops[0]
        vnode = next(v for k, v in y.value if src.plain(k) == op)
        value = src.plain(vnode)
        if op in ("in", "not_in"):
            if not isinstance(value, list):
                self.bad(vnode, nid, f"{op}: expected a list")
                return None
            value = tuple(value)
        elif op in ("gt", "ge", "lt", "le") and (
            not isinstance(value, int | float) or isinstance(value, bool)
        ):
            self.bad(vnode, nid, f"{op}: expected a number")
            return None
        elif op == "matches":
            import re

            try:
                re.compile(str(value))
            except re.error as exc:
                self.bad(vnode, nid, f"invalid pattern {value!r}: {exc}")
                return None
        elif op == "empty" and not isinstance(value, bool):
            self.bad(vnode, nid, "empty: expected true or false")
            return None
        return c.Test(op, value)  # type: ignore[arg-type]

    def _test(self, y: src.YNode, v: src.YNode, nid: str | None, ops: list[str], make: Any) -> Any:
        name = src.plain(v)
        if not isinstance(name, str) or not name:
            self.bad(v, nid, "var: expected a variable name")
            return None
        test = self._op(y, nid, ops)
        return None if test is None else make(test)

    def _queue(
        self, y: src.YNode, v: src.YNode, metric: src.YNode | None, nid: str | None, ops: list[str]
    ) -> Any:
        which = "waiting" if metric is None else src.plain(metric)
        if which not in c.METRICS:
            self.bad(metric, nid, f"metric: one of {', '.join(c.METRICS)}")
            return None
        test = self._op(y, nid, ops)
        if test is None:
            return None
        self.marks.setdefault("queue", src.pos_of(v))
        return c.QueueIs(str(src.plain(v)), which, test)

    def _time(self, v: src.YNode, nid: str | None) -> c.TimeIn | None:
        raw = src.plain(v)
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list) or not items:
            self.bad(v, nid, "time: expected HH:MM-HH:MM or a list of them")
            return None
        try:
            return c.TimeIn(tuple(TimeRange.parse(str(x)) for x in items))
        except ValueError as exc:
            self.bad(v, nid, str(exc))
            return None
