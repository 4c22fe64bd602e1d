"""The audit trail, sign-in failure counts and forgetting personal fields, on both stores."""

from __future__ import annotations

import time

from ivr.records import CallRecord
from ivr.store import AuditEntry, AuditQuery, Store


async def test_the_trail_is_searched_newest_first_by_prefix(store: Store) -> None:
    for i, (actor, action) in enumerate(
        [("seat:1001", "signin"), ("seat:1002", "ticket.read"), ("supervisor:zhang", "export.csv")]
    ):
        store.audit.add(AuditEntry(1000.0 + i, actor, action, f"s{i}", "10.0.0.7", "d"))
    await store.audit.flush()
    assert [e.action for e in await store.audit.search(AuditQuery())] == [
        "export.csv",
        "ticket.read",
        "signin",
    ]
    assert [e.actor for e in await store.audit.search(AuditQuery(actor="seat:"))] == [
        "seat:1002",
        "seat:1001",
    ]
    found = await store.audit.search(AuditQuery(action="ticket.", since=1001.0, until=1002.0))
    assert found == [AuditEntry(1001.0, "seat:1002", "ticket.read", "s1", "10.0.0.7", "d")]
    assert len(await store.audit.search(AuditQuery(limit=1))) == 1
    await store.audit.prune(1001.5)
    assert [e.subject for e in await store.audit.search(AuditQuery())] == ["s2"]


async def test_failures_count_up_and_start_again_when_stale(store: Store) -> None:
    assert await store.signins.get("account:seat:1001") is None
    for n in range(1, 4):
        assert (await store.signins.fail("account:seat:1001", 100.0 + n, 0.0)).failures == n
    count = await store.signins.fail("account:seat:1001", 500.0, 200.0)  # the last was before 200
    assert (count.failures, count.last_failure) == (1, 500.0)
    await store.signins.clear("account:seat:1001")
    assert await store.signins.get("account:seat:1001") is None
    await store.signins.fail("address:10.0.0.7", 100.0, 0.0)
    await store.signins.prune(150.0)
    assert await store.signins.get("address:10.0.0.7") is None


async def test_closed_tickets_past_the_period_lose_their_personal_fields(store: Store) -> None:
    old = await store.tickets.create(
        "13900000001",
        address="朝阳路1号",
        description="张三家楼下路灯坏了",
        context={"transcript": "我叫张三"},
    )
    await store.tickets.update(old.id, {"category1": "城市管理", "unit": "朝阳区城管委"}, actor="seat:1001")
    await store.tickets.update(old.id, {"status": "closed"}, actor="seat:1001")
    still_open = await store.tickets.create("13900000002", description="开着的工单")
    await store.save_call(CallRecord("c-old", "13900000001", 100.0, ticket_id=old.id))
    await store.save_call(CallRecord("c-none", "13900000003", 100.0))
    await store.save_call(CallRecord("c-open", "13900000002", 100.0, ticket_id=still_open.id))

    assert await store.personal.forget(time.time() - 3600, time.time()) == []  # closed just now
    assert await store.personal.forget(time.time() + 1, time.time()) == [old.id]
    assert await store.personal.forget(time.time() + 1, time.time()) == []  # once only
    t = await store.tickets.get(old.id)
    assert t is not None
    assert (t.caller, t.address, t.description, dict(t.context)) == ("", "", "", {})
    assert (t.category1, t.unit, t.status) == ("城市管理", "朝阳区城管委", "closed")  # the figures stay
    history = await store.tickets.history(old.id)
    assert len(history) == 3 and all(
        "caller" not in h.changes and "description" not in h.changes for h in history
    )
    assert any("category1" in h.changes for h in history)
    kept = await store.tickets.get(still_open.id)
    assert kept is not None and kept.caller == "13900000002"
    assert await store.personal.forget_calls(200.0) == 1  # the call without a ticket
    callers = {cid: (await store.get_call(cid)).caller for cid in ("c-old", "c-none", "c-open")}  # type: ignore[union-attr]
    assert callers == {"c-old": "", "c-none": "", "c-open": "13900000002"}
