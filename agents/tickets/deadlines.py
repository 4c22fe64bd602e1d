"""Units' time limits (办理时限) and the watch over them (督办).

A ticket's limit comes from its urgency and category: critical and urgent tickets get hours
around the clock; normal ones get working days on the centre's calendar (holidays and 调休
make-up days from the file admins keep), or their category's limit when [deadlines] names one
(the most specific path wins: "城市管理/市政设施" over "城市管理"). "5 working days" ends at the
midnight that closes the fifth working day after the day of dispatch.

`DeadlineWatch` looks over the tickets at units every minute: tickets due within
`due_soon_hours` and overdue ones are summed up for the board, and each unit is told once per
ticket and kind (a `remind` entry in the ticket's history and a message on the unit's feed)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agents.tickets.lifecycle import TicketLife
from ivr.aftercall import DeadlineSettings
from ivr.config import Settings
from ivr.flow.calendar import Calendar
from ivr.flow.checker import load_calendar
from ivr.records import AT_UNIT, Ticket, TicketQuery

log = logging.getLogger(__name__)

DUE_SOON, OVERDUE = "due_soon", "overdue"


@dataclass(frozen=True)
class Limit:
    hours: float = 0.0  # around the clock
    workdays: int = 0  # on the calendar

    @classmethod
    def parse(cls, text: str) -> Limit:
        """ "48h" or "3d" (working days), as config checks them."""
        return cls(hours=float(text[:-1])) if text.endswith("h") else cls(workdays=int(text[:-1]))


class Deadlines:
    """The due time of a ticket dispatched at a moment; also the ticket life's `DuePolicy`."""

    def __init__(
        self,
        calendar: Calendar,
        *,
        critical_hours: float = 2.0,
        urgent_hours: float = 24.0,
        normal_workdays: int = 5,
        categories: Mapping[str, str] | None = None,
    ) -> None:
        self.calendar = calendar
        self._urgency = {"critical": Limit(hours=critical_hours), "urgent": Limit(hours=urgent_hours)}
        self._normal = Limit(workdays=normal_workdays)
        self._categories = {k.strip("/"): Limit.parse(v) for k, v in (categories or {}).items()}

    @classmethod
    def from_settings(cls, settings: Settings) -> tuple[Deadlines, str]:
        """The policy of [deadlines], and a problem loading its calendar ("" if none): without
        its file, working days are Monday to Friday (logged; `ivr doctor` says so too)."""
        d: DeadlineSettings = settings.deadlines
        calendar, problem = load_calendar(settings.resolve(d.calendar))
        if calendar is None:
            log.warning("deadlines count Monday to Friday only: %s", problem)
        policy = cls(
            calendar or Calendar(source="(no calendar)"),
            critical_hours=d.critical_hours,
            urgent_hours=d.urgent_hours,
            normal_workdays=d.normal_workdays,
            categories=d.categories,
        )
        return policy, problem or ""

    def calendar_warning(self, today: dt.date, days: int) -> str:
        """For the board (in Chinese): the holiday list does not cover the next `days` days, or
        covers them with a year marked provisional."""
        gap = self.calendar.uncovered(today, days)
        if gap is None:
            year = self.calendar.provisional_in(today, days)
            if year is None:
                return ""
            return (
                f"{year} 年节假日安排为暂定（国务院办公厅通知公布前录入），办理时限可能有误；"
                f"通知公布后请在 {self.calendar.source} 中核对并去掉 provisional 中的 {year}"
            )
        return (
            f"节假日安排尚未录入 {gap.year} 年（{gap.isoformat()} 起），办理时限暂按普通周末计算；"
            f"请在 {self.calendar.source} 中补充国务院办公厅公布的节假日和调休安排"
        )

    def limit_for(self, ticket: Ticket) -> Limit:
        if ticket.urgency in self._urgency:
            return self._urgency[ticket.urgency]
        levels = [c for c in ticket.category if c]
        for depth in range(len(levels), 0, -1):
            found = self._categories.get("/".join(levels[:depth]))
            if found is not None:
                return found
        return self._normal

    def __call__(self, ticket: Ticket, at: float) -> float:
        limit = self.limit_for(ticket)
        if limit.hours:
            return at + limit.hours * 3600.0
        start = dt.datetime.fromtimestamp(at, self.calendar.tz)
        return self.calendar.after_workdays(start, limit.workdays).timestamp()


def urgency_of(ticket: Ticket, now: float, soon_seconds: float) -> str:
    """OVERDUE, DUE_SOON or "" for a ticket at a unit."""
    if ticket.status not in AT_UNIT or not ticket.due_at:
        return ""
    if ticket.due_at <= now:
        return OVERDUE
    return DUE_SOON if ticket.due_at - now <= soon_seconds else ""


class DeadlineWatch:
    def __init__(
        self,
        life: TicketLife,
        soon_seconds: float,
        *,
        every: float = 60.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._life = life
        self._soon = soon_seconds
        self._every = every
        self._now = now
        self._task: asyncio.Task[None] | None = None
        self.summary: dict[str, Any] = {"overdue": 0, "due_soon": 0, "units": [], "tickets": []}
        # every node looks (its board's 督办 figures); only the centre's leader reminds
        self.reminds: Callable[[], bool] = lambda: True

    async def sweep(self) -> dict[str, Any]:
        """One look over the tickets at units: remind, and sum up for the board (督办)."""
        now = self._now()
        flagged: list[tuple[Ticket, str]] = []
        for status in AT_UNIT:
            for t in await self._life.store.tickets.search(TicketQuery(status=status, limit=500)):
                kind = urgency_of(t, now, self._soon)
                if kind:
                    flagged.append((t, kind))
        if self.reminds():
            for t, kind in flagged:
                await self._remind(t, kind)
        units: dict[str, dict[str, Any]] = {}
        for t, kind in flagged:
            row = units.setdefault(t.unit, {"unit": t.unit, OVERDUE: 0, DUE_SOON: 0})
            row[kind] += 1
        flagged.sort(key=lambda pair: pair[0].due_at)
        self.summary = {
            OVERDUE: sum(1 for _, k in flagged if k == OVERDUE),
            DUE_SOON: sum(1 for _, k in flagged if k == DUE_SOON),
            "units": sorted(units.values(), key=lambda r: (-r[OVERDUE], -r[DUE_SOON], r["unit"])),
            "tickets": [
                {"id": t.id, "unit": t.unit, "status": t.status, "due_at": t.due_at, "kind": k}
                for t, k in flagged[:50]
            ],
        }
        return self.summary

    async def _remind(self, ticket: Ticket, kind: str) -> None:
        """Once per kind since the ticket last reached the unit (dispatch, redispatch, reopen)."""
        history = await self._life.store.tickets.history(ticket.id)
        since = max(
            (i for i, h in enumerate(history) if h.event in ("dispatch", "redispatch", "reopen")), default=0
        )
        if any(h.event == "remind" and h.note == kind for h in history[since:]):
            return
        await self._life.remind(ticket, kind)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="deadline-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:  # a failed look is retried at the next; the watch never stops
                log.exception("deadline sweep failed")
            await asyncio.sleep(self._every)
