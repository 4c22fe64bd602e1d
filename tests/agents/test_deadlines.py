"""Time limits per urgency and category on the working-day calendar, and the watch that sums up
due-soon and overdue tickets and tells each unit once (agents/tickets/deadlines.py), over a
real SQLite store."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from agents.tickets.deadlines import Deadlines, DeadlineWatch, Limit
from agents.tickets.lifecycle import TicketLife
from ivr.bus import Topics
from ivr.flow.calendar import CHINA, from_data
from ivr.records import Ticket, Unit
from ivr.store import open_store

CAL = from_data({"holidays": {"2026-10-01..2026-10-07": "国庆节"}, "workdays": {"2026-10-10": "调休"}}, "t")


def _at(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=CHINA).timestamp()


def _ticket(**kw: str) -> Ticket:
    return Ticket("20260930000001", "13800000001", "phone", 0.0, 0.0, **kw)  # type: ignore[arg-type]


def test_limits_by_urgency_then_most_specific_category() -> None:
    d = Deadlines(
        CAL,
        critical_hours=2,
        urgent_hours=24,
        normal_workdays=5,
        categories={"城市管理": "3d", "城市管理/市政设施": "48h"},
    )
    assert d.limit_for(_ticket(urgency="critical", category1="城市管理")) == Limit(hours=2)
    assert d.limit_for(_ticket(category1="城市管理", category2="市政设施", category3="路灯")) == Limit(
        hours=48
    )
    assert d.limit_for(_ticket(category1="城市管理", category2="环境卫生")) == Limit(workdays=3)
    assert d.limit_for(_ticket(category1="教育")) == Limit(workdays=5)
    at = _at("2026-09-30 10:00")
    assert d(_ticket(urgency="urgent"), at) == at + 24 * 3600  # hours run through the holiday
    # 3 working days from Wednesday 30 Sep: Thu 8, Fri 9 and the make-up Saturday 10 Oct
    assert d(_ticket(category1="城市管理"), at) == _at("2026-10-11 00:00")


async def test_watch_sums_up_and_reminds_each_unit_once(tmp_path: Path) -> None:
    clock = [_at("2026-11-30 09:00")]
    store = await open_store(tmp_path / "w.db", now=lambda: clock[0])
    try:
        await store.units.put_unit(Unit("cy-cgw", "朝阳区城管委"))
        life = TicketLife(store, Topics(), due=lambda _t, at: at + 10 * 3600, now=lambda: clock[0])
        watch = DeadlineWatch(life, soon_seconds=4 * 3600, now=lambda: clock[0])
        a = await store.tickets.create("1", status="open")
        b = await store.tickets.create("2", status="open")
        await life.dispatch(a.id, "朝阳区城管委", actor="seat:1001")
        clock[0] += 3 * 3600
        await life.dispatch(b.id, "朝阳区城管委", actor="seat:1001")
        assert (await watch.sweep())["due_soon"] == 0
        clock[0] += 4 * 3600  # a: 3 h left; b: 6 h left
        s = await watch.sweep()
        assert (s["due_soon"], s["overdue"]) == (1, 0) and s["tickets"][0]["id"] == a.id
        await watch.sweep()  # told once only
        clock[0] += 4 * 3600  # a overdue, b due soon
        s = await watch.sweep()
        assert (s["overdue"], s["due_soon"]) == (1, 1)
        assert s["units"] == [{"unit": "朝阳区城管委", "overdue": 1, "due_soon": 1}]
        reminders = [(h.event, h.note) for h in await store.tickets.history(a.id) if h.event == "remind"]
        assert reminders == [("remind", "due_soon"), ("remind", "overdue")]
        feed = await store.outbox_latest("hotline/v1/unit/cy-cgw/ticket")
        assert feed is not None and json.loads(feed.payload)["note"] in ("overdue", "due_soon")
        await life.reply(Unit("cy-cgw", "朝阳区城管委"), a.id, "已处理", "solved", actor="unit:cy-cgw")
        assert (await watch.sweep())["overdue"] == 0  # replied: no longer watched
    finally:
        await store.close()


def test_the_board_is_told_of_a_missing_and_of_a_provisional_year() -> None:
    cal = from_data(
        {"holidays": {"2026-10-01": "国庆节", "2027-01-01": "元旦"}, "provisional": [2027]}, "cal.yaml"
    )
    d = Deadlines(cal, critical_hours=2, urgent_hours=24, normal_workdays=5)
    assert d.calendar_warning(dt.date(2026, 6, 1), 60) == ""
    provisional = d.calendar_warning(dt.date(2026, 11, 30), 60)
    assert "2027 年节假日安排为暂定" in provisional and "cal.yaml" in provisional
    assert "尚未录入 2028 年" in d.calendar_warning(dt.date(2027, 12, 1), 60)
    for bad in ("2027", [27], ["2027"]):
        try:
            from_data({"provisional": bad}, "cal.yaml")
        except ValueError as exc:
            assert "provisional: expected a list of years" in str(exc)
        else:
            raise AssertionError(f"provisional {bad!r} must be refused")
