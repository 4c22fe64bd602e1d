"""The store against real SQLite files: tickets and history, events, CDR, outbox, restarts."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.records import CallRecord, QueueEvent, QueueEventKind, SeatEvent, SeatState
from ivr.store import Outgoing, SqliteStore, StoreError
from ivr.store.schema import MIGRATIONS


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = await SqliteStore.open(tmp_path / "hotline.db")
    yield s
    await s.close()


async def test_ticket_create_update_history_and_survey(store: SqliteStore) -> None:
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


async def test_ticket_rejects_bad_fields_and_unknown_ids(store: SqliteStore) -> None:
    t = await store.tickets.create("1")
    with pytest.raises(StoreError):
        await store.tickets.update(t.id, {"status": "lost"}, actor="x")
    with pytest.raises(StoreError):
        await store.tickets.update(t.id, {"caller": "2"}, actor="x")
    with pytest.raises(StoreError):
        await store.tickets.update("nope", {"status": "open"}, actor="x")


async def test_concurrent_updates_of_one_ticket_all_land_in_history(store: SqliteStore) -> None:
    t = await store.tickets.create("1")
    await asyncio.gather(
        *(store.tickets.update(t.id, {"description": f"v{i}"}, actor=f"a{i}") for i in range(20))
    )
    hist = await store.tickets.history(t.id)
    assert len(hist) == 21
    olds = [h.changes["description"][0] for h in hist[1:]]
    news = [h.changes["description"][1] for h in hist[1:]]
    assert olds[1:] == news[:-1]  # each change saw the previous one: no lost update


async def test_earlier_tickets_by_caller_skip_drafts(store: SqliteStore) -> None:
    ids = []
    for i in range(4):
        t = await store.tickets.create("13900000000", description=f"第{i}次", status="open")
        ids.append(t.id)
    await store.tickets.create("13900000000")  # a draft: not shown as history
    earlier = await store.tickets.by_caller("13900000000", limit=3, exclude=ids[-1])
    assert [t.id for t in earlier] == ids[-2::-1][:3]


async def test_everything_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "db" / "hotline.db"
    s = await SqliteStore.open(path)
    t = await s.tickets.create("1", status="open")
    s.queue_event(QueueEvent(10.0, "c1", "general", QueueEventKind.ENTERQUEUE, data={"position": 1}))
    s.seat_event(SeatEvent(11.0, "1001", SeatState.READY, SeatState.LOGGED_OUT, 0.0))
    await s.save_call(CallRecord("c1", "1", 9.0, dialled="12345", path=("main", "menu"), ticket_id=t.id))
    await s.outbox_put("hotline/v1/x", b"{}")
    await s.close()  # events were fire-and-forget: close must flush them
    s = await SqliteStore.open(path)
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
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        columns = [r[1] for r in raw.execute("PRAGMA table_info(outbox)")]
        assert "attempts" not in columns and "delivered_at" in columns


async def test_concurrent_writes_share_transactions(store: SqliteStore) -> None:
    before = store.batches
    await asyncio.gather(*(store.tickets.create(str(i)) for i in range(300)))
    assert store.batches - before < 100
    with sqlite3.connect(store_path(store)) as raw:
        assert raw.execute("SELECT count(*) FROM tickets").fetchone()[0] == 300
        assert raw.execute("SELECT count(*) FROM ticket_history").fetchone()[0] == 300


def store_path(store: SqliteStore) -> str:
    return str(store.path)


async def test_a_failing_unit_does_not_sink_its_batch(store: SqliteStore) -> None:
    t = await store.tickets.create("1")
    good = [store.tickets.create(str(i)) for i in range(5)]
    dup = store.tickets.create("x", ticket_id=t.id)  # primary key clash
    results = await asyncio.gather(*good, dup, return_exceptions=True)
    assert isinstance(results[-1], sqlite3.IntegrityError)
    assert all(not isinstance(r, BaseException) for r in results[:-1])
    for r in results[:-1]:
        assert await store.tickets.get(r.id) is not None  # type: ignore[union-attr]


async def test_outbox_rows_commit_with_the_ticket_and_are_marked_delivered(store: SqliteStore) -> None:
    t = await store.tickets.create("1", also=lambda tk: [Outgoing(f"pop/{tk.id}", tk.id.encode())])
    pending = await store.outbox_pending()
    assert [(i.topic, i.payload) for i in pending] == [(f"pop/{t.id}", t.id.encode())]
    await store.outbox_delivered([pending[0].id])
    assert await store.outbox_pending() == []
    await store.outbox_prune(older_than=10**12)
    with sqlite3.connect(store_path(store)) as raw:
        assert raw.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
