"""After-call figures (agents/tickets/figures.py) over a real SQLite store, walking tickets
through returns, late and on-time replies, and follow-ups that reopen and close."""

from __future__ import annotations

from pathlib import Path

from agents.followups import FollowupDesk
from agents.tickets.figures import unit_figures
from agents.tickets.lifecycle import TicketLife
from ivr.bus import Topics
from ivr.records import SeatRow, Team, Unit
from ivr.store import open_store

A = Unit("cy-cgw", "朝阳区城管委", "委办局", "朝阳区")
B = Unit("hd-sw", "海淀区水务局", "委办局", "海淀区")


async def test_figures_per_unit_category_and_district(tmp_path: Path) -> None:
    clock = [1000.0]
    store = await open_store(tmp_path / "fig.db", now=lambda: clock[0])
    try:
        for u in (A, B):
            await store.units.put_unit(u)
        life = TicketLife(store, Topics(), due=lambda _t, at: at + 100.0, now=lambda: clock[0])
        desk = FollowupDesk(life, now=lambda: clock[0])
        await store.roster.put_seats(
            [
                SeatRow("1001", "王芳", "sip:1001@127.0.0.1", team="t1"),
                SeatRow("1002", "李强", "sip:1002@127.0.0.1"),
            ],
            teams=[Team("t1", "一班", leader="1001")],
        )
        one = await store.tickets.create("1", status="open", category1="城市管理", operator="1001")
        two = await store.tickets.create("2", status="open", category1="水务", operator="1002")
        await life.dispatch(one.id, A.name, actor="seat:1001")
        await life.dispatch(two.id, A.name, actor="seat:1001")
        await life.give_back(A, two.id, "不归我们管", actor="unit:cy-cgw")
        await life.dispatch(two.id, B.name, actor="supervisor")
        clock[0] += 50  # within the limit
        await life.reply(A, one.id, "已修复", "solved", actor="unit:cy-cgw")
        clock[0] += 100  # B replies late
        await life.reply(B, two.id, "已疏通", "solved", actor="unit:hd-sw")
        (f1,) = await store.followups.for_ticket(one.id)
        await desk.answer(f1, False, "不满意", by="followup:line")  # reopened to A
        await life.reply(A, one.id, "再次修复", "solved", actor="unit:cy-cgw")  # on time (new limit)
        f1b = next(t for t in await store.followups.for_ticket(one.id) if t.state != "done")
        await desk.answer(f1b, True, "满意", by="followup:line")
        (f2,) = await store.followups.for_ticket(two.id)
        await desk.answer(f2, True, "基本满意", by="seat:1002")

        rows = {r["name"]: r for r in await unit_figures(store, 0.0, 10_000.0)}
        a, b = rows[A.name], rows[B.name]
        assert (a["received"], a["replied"], a["returned_rate"], a["reopened_rate"]) == (2, 2, 0.5, 0.5)
        assert (a["on_time_rate"], a["followups"], a["resolution_rate"], a["satisfaction_rate"]) == (
            1.0,
            2,
            0.5,
            0.5,
        )
        assert (b["received"], b["on_time_rate"], b["resolution_rate"], b["satisfaction_rate"]) == (
            1,
            0.0,
            1.0,
            1.0,
        )
        by_category = {r["name"]: r["received"] for r in await unit_figures(store, 0.0, 10_000.0, "category")}
        assert by_category == {"城市管理": 1, "水务": 2}
        districts = {
            r["name"]: r["returned_rate"] for r in await unit_figures(store, 0.0, 10_000.0, "district")
        }
        assert districts == {"朝阳区": 0.5, "海淀区": 0.0}
        teams = {r["name"]: r["received"] for r in await unit_figures(store, 0.0, 10_000.0, "team")}
        assert teams == {"一班": 1, "（未填）": 2}  # the operator who took it: 1001 is in 一班, 1002 in none
        assert await unit_figures(store, 20_000.0, 30_000.0) == []  # another range: nothing
    finally:
        await store.close()
