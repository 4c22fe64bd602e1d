"""Both stores against real databases (a SQLite file, a PostgreSQL server): tickets and history,
events, CDR, outbox, restarts. Every test runs on both."""

from __future__ import annotations

import asyncio

import pytest
from backends import Backend

from ivr.records import CallRecord, QueueEvent, QueueEventKind, SeatEvent, SeatState
from ivr.store import Outgoing, SessionRecord, Store, StoreError, pgschema, schema


async def test_ticket_create_update_history_and_survey(store: Store) -> None:
    t = await store.tickets.create("13800000001", call_id="c1", urgency="urgent", description="楼道灯坏了")
    assert t.status == "draft" and len(t.id) == 14
    t2 = await store.tickets.update(
        t.id,
        {
            "category1": "城市管理",
            "category2": "市政设施",
            "category3": "路灯",
            "status": "open",
            "operator": "1001",
        },
        actor="seat:1001",
    )
    assert t2.category == ("城市管理", "市政设施", "路灯")
    await store.tickets.update(t.id, {"status": "dispatched", "unit": "朝阳区城管委"}, actor="seat:1001")
    await store.tickets.set_survey(t.id, {"satisfied": "yes", "score": 5})
    got = await store.tickets.get(t.id)
    assert got is not None
    assert (got.status, got.unit, dict(got.survey)) == (
        "dispatched",
        "朝阳区城管委",
        {"satisfied": "yes", "score": 5},
    )
    hist = await store.tickets.history(t.id)
    assert [h.actor for h in hist] == ["ivr", "seat:1001", "seat:1001", "ivr"]
    assert hist[0].changes["urgency"] == (None, "urgent")
    assert hist[2].changes == {"status": ("open", "dispatched"), "unit": ("", "朝阳区城管委")}
    unchanged = await store.tickets.update(t.id, {"status": "dispatched"}, actor="seat:1001")
    assert unchanged.status == "dispatched"
    assert len(await store.tickets.history(t.id)) == 4  # a no-op change logs nothing


async def test_ticket_rejects_bad_fields_and_unknown_ids(store: Store) -> None:
    t = await store.tickets.create("1")
    with pytest.raises(StoreError):
        await store.tickets.update(t.id, {"status": "lost"}, actor="x")
    with pytest.raises(StoreError):
        await store.tickets.update(t.id, {"caller": "2"}, actor="x")
    with pytest.raises(StoreError):
        await store.tickets.update("nope", {"status": "open"}, actor="x")


async def test_concurrent_updates_of_one_ticket_all_land_in_history(store: Store) -> None:
    t = await store.tickets.create("1")
    await asyncio.gather(
        *(store.tickets.update(t.id, {"description": f"v{i}"}, actor=f"a{i}") for i in range(20))
    )
    hist = await store.tickets.history(t.id)
    assert len(hist) == 21
    olds = [h.changes["description"][0] for h in hist[1:]]
    news = [h.changes["description"][1] for h in hist[1:]]
    assert olds[1:] == news[:-1]  # each change saw the previous one: no lost update


async def test_earlier_tickets_by_caller_skip_drafts(store: Store) -> None:
    ids = []
    for i in range(4):
        t = await store.tickets.create("13900000000", description=f"第{i}次", status="open")
        ids.append(t.id)
    await store.tickets.create("13900000000")  # a draft: not shown as history
    earlier = await store.tickets.by_caller("13900000000", limit=3, exclude=ids[-1])
    assert [t.id for t in earlier] == ids[-2::-1][:3]


async def test_tickets_since_a_time_oldest_first(store: Store) -> None:
    made = [await store.tickets.create(f"1390000000{i}", description=f"第{i}次") for i in range(3)]
    got = await store.tickets.since(made[1].created_at)
    assert [t.id for t in got] == [t.id for t in made if t.created_at >= made[1].created_at]
    assert made[-1].id in [t.id for t in got] and made[0].created_at <= made[1].created_at
    assert [t.id for t in await store.tickets.since(0, limit=1)] == [made[-1].id]  # the newest kept
    assert await store.tickets.since(made[-1].created_at + 1) == []


async def test_everything_survives_a_restart(backend: Backend) -> None:
    s = await backend.open()
    t = await s.tickets.create("1", status="open")
    s.queue_event(QueueEvent(10.0, "c1", "general", QueueEventKind.ENTERQUEUE, data={"position": 1}))
    s.seat_event(SeatEvent(11.0, "1001", SeatState.READY, SeatState.LOGGED_OUT, 0.0))
    await s.save_call(CallRecord("c1", "1", 9.0, dialled="12345", path=("main", "menu"), ticket_id=t.id))
    await s.outbox_put("hotline/v1/x", b"{}")
    await s.close()  # events were fire-and-forget: close must flush them
    s = await backend.open()
    try:
        assert (await s.tickets.get(t.id)) == t
        assert [(e.kind, dict(e.data)) for e in await s.queue_events()] == [
            (QueueEventKind.ENTERQUEUE, {"position": 1})
        ]
        assert [e.state for e in await s.seat_events()] == [SeatState.READY]
        call = await s.get_call("c1")
        assert call is not None and call.path == ("main", "menu")
        assert [i.topic for i in await s.outbox_pending()] == ["hotline/v1/x"]
        t2 = await s.tickets.create("2")
        assert int(t2.id) == int(t.id) + 1  # numbering resumes
    finally:
        await s.close()
    assert len(schema.MIGRATIONS) == len(pgschema.MIGRATIONS)  # one version numbering
    if backend.name == "sqlite":
        assert (await backend.rows("PRAGMA journal_mode"))[0][0] == "wal"
        assert (await backend.rows("PRAGMA user_version"))[0][0] == len(schema.MIGRATIONS)
        columns = [r[1] for r in await backend.rows("PRAGMA table_info(outbox)")]
    else:
        assert (await backend.rows("SELECT version FROM schema_version")) == [(len(pgschema.MIGRATIONS),)]
        sql = "SELECT column_name FROM information_schema.columns WHERE table_name = 'outbox'"
        columns = [r[0] for r in await backend.rows(sql)]
    assert "attempts" not in columns and "delivered_at" in columns


async def test_concurrent_writes_share_transactions(store: Store, backend: Backend) -> None:
    before = store.batches
    await asyncio.gather(*(store.tickets.create(str(i)) for i in range(300)))
    assert store.batches - before < 100
    assert await backend.rows("SELECT count(*) FROM tickets") == [(300,)]
    assert await backend.rows("SELECT count(*) FROM ticket_history") == [(300,)]


async def test_a_failing_unit_does_not_sink_its_batch(store: Store, backend: Backend) -> None:
    t = await store.tickets.create("1")
    good = [store.tickets.create(str(i)) for i in range(5)]
    dup = store.tickets.create("x", ticket_id=t.id)  # primary key clash
    results = await asyncio.gather(*good, dup, return_exceptions=True)
    assert isinstance(results[-1], backend.duplicate_key)
    assert all(not isinstance(r, BaseException) for r in results[:-1])
    for r in results[:-1]:
        assert await store.tickets.get(r.id) is not None  # type: ignore[union-attr]


async def test_outbox_rows_commit_with_the_ticket_and_are_marked_delivered(
    store: Store, backend: Backend
) -> None:
    t = await store.tickets.create("1", also=lambda tk: [Outgoing(f"pop/{tk.id}", tk.id.encode())])
    pending = await store.outbox_pending()
    assert [(i.topic, i.payload) for i in pending] == [(f"pop/{t.id}", t.id.encode())]
    await store.outbox_delivered([pending[0].id])
    assert await store.outbox_pending() == []
    await store.outbox_prune(older_than=10**12)
    assert await backend.rows("SELECT count(*) FROM outbox") == [(0,)]


async def test_outbox_wakes_listeners_and_keeps_the_latest_per_topic(store: Store) -> None:
    woken = asyncio.Event()
    store.outbox_listeners.append(woken.set)
    t = await store.tickets.create("1")
    assert not woken.is_set()  # nothing announced
    await store.tickets.update(
        t.id,
        {"status": "open"},
        actor="x",
        also=lambda tk: [Outgoing("ticket", tk.status.encode(), retain=True)],
    )
    assert woken.is_set()
    await store.outbox_put_many([Outgoing("pop/1001", b"a"), Outgoing("pop/1001", b"b", qos=0)])
    latest = await store.outbox_latest("pop/1001")
    assert latest is not None and (latest.payload, latest.qos, latest.retain) == (b"b", 0, False)
    assert [(i.topic, i.payload, i.retain) for i in await store.outbox_pending()] == [
        ("ticket", b"open", True),
        ("pop/1001", b"a", False),
        ("pop/1001", b"b", False),
    ]
    assert await store.outbox_latest("pop/1002") is None


async def test_a_no_op_update_announces_nothing(store: Store) -> None:
    t = await store.tickets.create("1", status="open")
    called: list[str] = []

    def announce(tk: object) -> list[Outgoing]:
        called.append("x")
        return [Outgoing("t", b"")]

    await store.tickets.update(t.id, {"status": "open"}, actor="x", also=announce)
    assert called == [] and await store.outbox_pending() == []


async def test_tally_counts_categories_and_survey_answers(store: Store) -> None:
    for i, (cat, answer) in enumerate([("城市管理", "yes"), ("城市管理", "no"), ("交通", "yes"), ("", "")]):
        t = await store.tickets.create(
            str(i), category1=cat, category2="b" if cat else "", category3="c" if cat else ""
        )
        if answer:
            await store.tickets.set_survey(t.id, {"satisfaction": answer, "score": 5})
    tally = await store.tickets.tally("satisfaction")
    assert tally.total == 4
    assert dict(tally.categories) == {"城市管理/b/c": 2, "交通/b/c": 1}
    assert list(tally.categories) == ["城市管理/b/c", "交通/b/c"]  # most first
    assert dict(tally.surveys) == {"no": 1, "yes": 2}


async def test_bad_field_values_are_refused_before_taking_a_number(store: Store) -> None:
    with pytest.raises(StoreError, match="urgency"):
        await store.tickets.create("1", urgency="whenever")
    with pytest.raises(StoreError, match="not editable"):
        await store.tickets.create("1", id="x")
    first = await store.tickets.create("1")
    assert first.id.endswith("000001")


async def test_console_sessions_one_per_seat_touch_delete_and_prune(store: Store) -> None:
    a = SessionRecord("hash-a", "seat", "1001", 10.0, 10.0)
    await store.sessions.put(a)
    await store.sessions.put(SessionRecord("hash-s1", "supervisor", "", 11.0, 11.0))
    await store.sessions.put(SessionRecord("hash-s2", "supervisor", "", 12.0, 12.0))
    assert await store.sessions.get("hash-a") == a
    await store.sessions.put(SessionRecord("hash-b", "seat", "1001", 20.0, 20.0))  # signs in again
    assert await store.sessions.get("hash-a") is None
    assert await store.sessions.get("hash-s1") is not None  # supervisors may have several
    await store.sessions.touch("hash-s1", 30.0)
    await store.sessions.touch("hash-s1", 25.0)  # late: never moves last_seen back
    got = await store.sessions.get("hash-s1")
    assert got is not None and (got.created_at, got.last_seen) == (11.0, 30.0)
    await store.sessions.delete("hash-b")
    assert await store.sessions.get("hash-b") is None
    assert await store.sessions.prune(idle_before=29.0) == 1  # hash-s2
    assert await store.sessions.get("hash-s2") is None and await store.sessions.get("hash-s1") is not None
