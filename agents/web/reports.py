"""Supervisor reports for a date range, per queue and per operator, as rows or CSV. Computed
from the durable event logs in the store with the live board's definitions (agents.stats)."""

from __future__ import annotations

import csv
import io
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from agents.stats import queue_figures
from agents.tickets.figures import GROUPS, unit_figures
from ivr.records import QueueEvent, QueueEventKind, SeatEvent, SeatState
from ivr.store import Store

K = QueueEventKind
MAX_DAYS = 366

QUEUE_COLUMNS = (
    "queue",
    "entered",
    "answered",
    "answered_in_time",
    "abandoned",
    "timed_out",
    "callbacks",
    "service_level",
    "asa",
    "abandon_rate",
    "aht",
)
OPERATOR_COLUMNS = (
    "seat_id",
    "name",
    "team",
    "calls",
    "talk_seconds",
    "wrapup_seconds",
    "aht",
    "not_ready_seconds",
    "logged_in_seconds",
    "surveys",
    "satisfaction_rate",
)


TEAM_COLUMNS = (
    "team",
    "seats",
    "calls",
    "talk_seconds",
    "wrapup_seconds",
    "aht",
    "not_ready_seconds",
    "logged_in_seconds",
    "surveys",
    "satisfaction_rate",
)
NO_TEAM = "（未分班组）"


def team_rows(operators: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The operator rows summed per team (班组); AHT and satisfaction weighted by the calls and
    surveys behind them."""
    teams: dict[str, dict[str, Any]] = {}
    for row in operators:
        t = teams.setdefault(str(row.get("team") or NO_TEAM), defaultdict(float))
        t["seats"] += 1
        for key in ("calls", "talk_seconds", "wrapup_seconds", "not_ready_seconds", "logged_in_seconds"):
            t[key] += float(row.get(key) or 0)
        if row.get("aht") is not None:
            t["handled"] += float(row["aht"]) * (row.get("completed") or row["calls"] or 1)
            t["completed"] += row.get("completed") or row["calls"] or 1
        surveys = int(row.get("surveys") or 0)
        t["surveys"] += surveys
        if row.get("satisfaction_rate") is not None:
            t["satisfied"] += float(row["satisfaction_rate"]) * surveys
    out = []
    for name, t in sorted(teams.items()):
        out.append(
            {
                "team": name,
                "seats": int(t["seats"]),
                "calls": int(t["calls"]),
                **{k: round(t[k], 1) for k in ("talk_seconds", "wrapup_seconds", "not_ready_seconds")},
                "logged_in_seconds": round(t["logged_in_seconds"], 1),
                "aht": round(t["handled"] / t["completed"], 1) if t["completed"] else None,
                "surveys": int(t["surveys"]),
                "satisfaction_rate": round(t["satisfied"] / t["surveys"], 4) if t["surveys"] else None,
            }
        )
    return out


class ReportError(ValueError):
    pass


def date_range(start: str, end: str) -> tuple[float, float]:
    """'2024-06-01', '2024-06-30' -> epoch seconds [local midnight of start, midnight after end)."""
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as exc:
        raise ReportError(f"日期格式应为 YYYY-MM-DD：{exc}") from exc
    if last < first:
        raise ReportError("结束日期早于开始日期")
    if (last - first).days >= MAX_DAYS:
        raise ReportError(f"日期范围最多 {MAX_DAYS} 天")
    return _midnight(first), _midnight(last + timedelta(days=1))


def _midnight(d: date) -> float:
    return time.mktime((d.year, d.month, d.day, 0, 0, 0, 0, 0, -1))


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def queue_rows(
    events: Sequence[QueueEvent], seat_events: Sequence[SeatEvent], levels: Mapping[str, float], until: float
) -> list[dict[str, Any]]:
    rows = []
    for name, t in levels.items():
        f = queue_figures(name, events, seat_events, until, t)
        rows.append(
            {
                "queue": name,
                "entered": f.entered,
                "answered": f.answered,
                "answered_in_time": f.answered_in_time,
                "abandoned": f.abandoned,
                "timed_out": f.timed_out,
                "callbacks": f.callbacks,
                "service_level": _r(f.service_level, 3),
                "asa": _r(f.asa),
                "abandon_rate": _r(f.abandon_rate, 3),
                "aht": _r(f.aht),
            }
        )
    return rows


def operator_rows(
    events: Iterable[QueueEvent], seat_events: Iterable[SeatEvent], names: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Per seat: answered calls, talk, wrap-up (time spent in wrap-up), AHT, not-ready time and
    logged-in time. A state's time counts on the day it ended (the event that left it)."""
    calls: dict[str, int] = defaultdict(int)
    talk: dict[str, float] = defaultdict(float)
    completed: dict[str, int] = defaultdict(int)
    for e in events:
        if e.kind is K.CONNECT and e.seat_id:
            calls[e.seat_id] += 1
        elif e.kind in (K.COMPLETEAGENT, K.COMPLETECALLER) and e.seat_id:
            talk[e.seat_id] += float(e.data.get("talk", 0.0))
            completed[e.seat_id] += 1
    wrapup: dict[str, float] = defaultdict(float)
    not_ready: dict[str, float] = defaultdict(float)
    logged_in: dict[str, float] = defaultdict(float)
    for s in seat_events:
        if s.previous is SeatState.WRAP_UP:
            wrapup[s.seat_id] += s.duration
        elif s.previous is SeatState.NOT_READY:
            not_ready[s.seat_id] += s.duration
        if s.previous is not SeatState.LOGGED_OUT:
            logged_in[s.seat_id] += s.duration
    rows = []
    for seat_id, name in names.items():
        done = completed[seat_id]
        rows.append(
            {
                "seat_id": seat_id,
                "name": name,
                "calls": calls[seat_id],
                "completed": done,
                "talk_seconds": round(talk[seat_id], 1),
                "wrapup_seconds": round(wrapup[seat_id], 1),
                "aht": round((talk[seat_id] + wrapup[seat_id]) / done, 1) if done else None,
                "not_ready_seconds": round(not_ready[seat_id], 1),
                "logged_in_seconds": round(logged_in[seat_id], 1),
            }
        )
    return rows


def to_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """UTF-8 with a BOM so that spreadsheet programs read the Chinese names right."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: "" if row.get(c) is None else row[c] for c in columns})
    return out.getvalue()


class Reports:
    def __init__(
        self,
        store: Store,
        levels: Mapping[str, float],
        names: Mapping[str, str] | Callable[[], Mapping[str, str]],
        teams: Callable[[], Mapping[str, str]] = dict,
    ) -> None:
        """`names`: seat id -> name (or where to read the current ones); `teams`: seat id ->
        team name (the roster's)."""
        self._store = store
        self._levels = dict(levels)
        self._names = names if callable(names) else (lambda fixed=dict(names): fixed)
        self._teams = teams

    async def _events(self, start: float, end: float) -> tuple[list[QueueEvent], list[SeatEvent]]:
        await self._store.flush()
        qe = [e for e in await self._store.queue_events(start) if e.at < end]
        se = [e for e in await self._store.seat_events(start) if e.at < end]
        return qe, se

    async def queues(self, start: str, end: str) -> list[dict[str, Any]]:
        t0, t1 = date_range(start, end)
        qe, se = await self._events(t0, t1)
        return queue_rows(qe, se, self._levels, min(t1, time.time()))

    async def operators(self, start: str, end: str, team: str = "") -> list[dict[str, Any]]:
        """Per seat, with the post-call survey (满意度) of the tickets it took in the range (only
        the seats of `team`, a team name, when given)."""
        t0, t1 = date_range(start, end)
        qe, se = await self._events(t0, t1)
        teams = self._teams()
        names = {k: v for k, v in self._names().items() if not team or teams.get(k) == team}
        rows = operator_rows(qe, se, names)
        surveys = await self._store.tickets.survey_counts(t0, t1)  # one GROUP BY, all seats
        for row in rows:
            row["team"] = teams.get(row["seat_id"], "")
            answers = surveys.get(row["seat_id"], {})
            answered = sum(answers.values())
            row["surveys"] = answered
            good = sum(n for a, n in answers.items() if a in ("满意", "基本满意"))
            row["satisfaction_rate"] = round(good / answered, 4) if answered else None
        return rows

    async def teams(self, start: str, end: str) -> list[dict[str, Any]]:
        """Per team (班组): its seats' figures summed."""
        return team_rows(await self.operators(start, end))

    async def units(self, start: str, end: str, group: str = "unit") -> list[dict[str, Any]]:
        """The after-call figures per unit, category or district (agents.tickets.figures)."""
        t0, t1 = date_range(start, end)
        if group not in GROUPS:
            raise ReportError(f"group 应为 {', '.join(GROUPS)} 之一")
        return await unit_figures(self._store, t0, t1, group)
