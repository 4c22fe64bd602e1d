"""Units and their staff, the ticket's life events in the history, and ticket search: on both
stores (a SQLite file, a PostgreSQL server)."""

from __future__ import annotations

import pytest
from backends import Backend

from ivr.passwords import check_password, hash_password
from ivr.records import TicketQuery, Unit, UnitStaff
from ivr.store import SessionRecord, Store, StoreError


async def test_units_and_staff_keep_a_password_hash_only(store: Store, backend: Backend) -> None:
    await store.units.put_unit(Unit("cy-cgw", "朝阳区城管委", "委办局", "朝阳区"))
    await store.units.put_unit(Unit("cy-cgw", "朝阳区城市管理委员会", "委办局", "朝阳区"))  # renamed
    await store.units.put_staff(
        UnitStaff("wang", "cy-cgw", "王科员", hash_password("s3cret", iterations=1000))
    )
    assert [u.name for u in await store.units.units()] == ["朝阳区城市管理委员会"]
    staff = await store.units.staff("wang")
    assert staff is not None and staff.unit_id == "cy-cgw"
    assert check_password("s3cret", staff.password_hash) and not check_password("s3creT", staff.password_hash)
    rows = await backend.rows("SELECT password_hash FROM unit_staff")
    assert "s3cret" not in str(rows) and str(rows[0][0]).startswith("pbkdf2_sha256$1000$")
    with pytest.raises(StoreError):
        await store.units.put_staff(UnitStaff("li", "nowhere", "李", hash_password("x", iterations=1000)))
    with pytest.raises(StoreError):
        await store.units.put_staff(UnitStaff("li", "cy-cgw", "李", "plain"))
    with pytest.raises(StoreError):
        await store.units.put_unit(Unit("x", "某单位", "公司"))
    assert await store.units.staff("li") is None and await store.units.unit("x") is None


async def test_unit_sessions_keep_their_unit(store: Store) -> None:
    await store.sessions.put(SessionRecord("h1", "unit", "", 1.0, 1.0, unit_id="cy-cgw"))
    got = await store.sessions.get("h1")
    assert got is not None and got.unit_id == "cy-cgw" and got.seat_id == ""


async def test_events_and_notes_are_kept_in_the_history(store: Store) -> None:
    t = await store.tickets.create("13800000001", status="dispatched", unit="朝阳区城管委")
    await store.tickets.update(
        t.id, {"status": "returned"}, actor="unit:wang", event="return", note="不属于本单位"
    )
    before = await store.tickets.get(t.id)
    assert before is not None
    noted = await store.tickets.update(t.id, {}, actor="unit:wang", event="note", note="已联系物业")
    assert noted.updated_at >= before.updated_at and noted.status == "returned"
    reply = {"done": "已修复路灯", "result": "solved"}
    await store.tickets.update(
        t.id, {"status": "replied", "reply": reply, "due_at": 5.0}, actor="unit:wang", event="reply"
    )
    hist = await store.tickets.history(t.id)
    assert [(h.event, h.note) for h in hist] == [
        ("", ""),
        ("return", "不属于本单位"),
        ("note", "已联系物业"),
        ("reply", ""),
    ]
    assert hist[2].changes == {}
    got = await store.tickets.get(t.id)
    assert got is not None and dict(got.reply) == reply and got.due_at == 5.0
    with pytest.raises(StoreError):
        await store.tickets.update(t.id, {}, actor="x", event="teleport")


async def test_search_by_number_caller_date_category_status_and_operator(backend: Backend) -> None:
    clock = [1_000_000.0]
    store = await backend.open(now=lambda: clock[0])
    try:
        a = await store.tickets.create(
            "13800000001", status="open", operator="1001", category1="城市管理", category3="路灯"
        )
        clock[0] += 86400
        b = await store.tickets.create("13800000002", status="dispatched", operator="1001", category2="噪声")
        c = await store.tickets.create("13800000001", status="closed", operator="1002", unit="朝阳区城管委")
        await store.tickets.create("13800000001")  # a draft is never found

        async def ids(**kw: object) -> list[str]:
            return [t.id for t in await store.tickets.search(TicketQuery(**kw))]  # type: ignore[arg-type]

        assert (await ids())[2] == a.id and len(await ids()) == 3
        assert await ids(caller="13800000001") == [c.id, a.id]
        assert await ids(operator="1001", status="dispatched") == [b.id]
        assert await ids(category="路灯") == [a.id]
        assert await ids(category="噪声") == [b.id]
        assert await ids(until=1_000_000.0 + 1) == [a.id]
        assert sorted(await ids(since=1_000_000.0 + 86400)) == sorted([b.id, c.id])
        assert await ids(number=a.id) == [a.id]
        assert await ids(number=a.id[:8]) == [a.id]  # the day's numbers
        assert await ids(number="%") == []  # no wildcards from outside
        assert await ids(unit="朝阳区城管委") == [c.id]
        assert len(await ids(limit=1)) == 1
    finally:
        await store.close()


async def test_events_between_dates_in_write_order(backend: Backend) -> None:
    clock = [100.0]
    store = await backend.open(now=lambda: clock[0])
    try:
        t = await store.tickets.create("1", status="open")
        await store.tickets.update(t.id, {"status": "dispatched"}, actor="seat:1", event="dispatch")
        clock[0] = 200.0
        await store.tickets.update(t.id, {"description": "x"}, actor="seat:1")  # no event: left out
        await store.tickets.update(t.id, {"status": "replied"}, actor="unit:a", event="reply", note="好")
        clock[0] = 300.0
        await store.tickets.update(t.id, {"status": "closed"}, actor="followup", event="close")
        assert [e.event for e in await store.tickets.events(0.0, 1000.0)] == ["dispatch", "reply", "close"]
        assert [e.event for e in await store.tickets.events(150.0, 300.0)] == ["reply"]
    finally:
        await store.close()


async def test_an_inbox_page_holds_the_earliest_deadlines_not_the_newest(store: Store) -> None:
    unit = "朝阳区城管委"
    made = []
    for due in (0.0, 500.0, 300.0, 900.0, 100.0):  # created in this order; 0: no deadline
        made.append((await store.tickets.create("1", status="dispatched", unit=unit, due_at=due)).id)
    query = TicketQuery(unit=unit, status="dispatched", limit=3, due_first=True)
    assert [t.due_at for t in await store.tickets.search(query)] == [100.0, 300.0, 500.0]
    everything = await store.tickets.search(TicketQuery(unit=unit, due_first=True))
    assert [t.id for t in everything][-1] == made[0]  # no deadline: last
    newest = await store.tickets.search(TicketQuery(unit=unit, limit=2))
    assert [t.due_at for t in newest] == [100.0, 900.0]  # the default order is still newest first
