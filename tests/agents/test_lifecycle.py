"""The ticket's life after dispatch (agents/tickets/lifecycle.py) over a real SQLite store:
allowed and refused moves, reopen after an unsatisfied follow-up, messages in the outbox."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agents.tickets.lifecycle import LifeError, TicketLife
from ivr.bus import Topics
from ivr.records import Ticket, Unit
from ivr.store import Store, open_store

UNIT = Unit("cy-cgw", "朝阳区城管委", "委办局", "朝阳区")
OTHER = Unit("hd-sw", "海淀区水务局", "委办局", "海淀区")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_store(tmp_path / "life.db")
    await s.units.put_unit(UNIT)
    await s.units.put_unit(OTHER)
    yield s
    await s.close()


def _due(_: Ticket, now: float) -> float:
    return now + 3600.0


async def test_dispatch_accept_reply_reopen_reply_close(store: Store) -> None:
    clock = [1000.0]
    life = TicketLife(store, Topics(), due=_due, now=lambda: clock[0])
    t = await store.tickets.create("13800000001", status="open", description="路灯不亮")
    t = await life.dispatch(t.id, UNIT.name, actor="seat:1001")
    assert (t.status, t.due_at) == ("dispatched", 4600.0)
    t = await life.accept(UNIT, t.id, actor="unit:cy-cgw")
    t = await life.reply(UNIT, t.id, "已修复", "solved", actor="unit:cy-cgw")
    assert t.status == "replied" and t.reply["result"] == "solved"
    clock[0] = 9000.0
    t = await life.reopen(t.id, actor="followup", note="市民表示仍未解决")
    assert (t.status, t.due_at) == ("reopened", 12600.0)
    assert [x.id for x in await life.inbox(UNIT)] == [t.id]
    t = await life.reply(UNIT, t.id, "再次维修", "solved", actor="unit:cy-cgw")
    t = await life.close(t.id, actor="followup", note="满意")
    assert t.status == "closed"
    events = [(h.event, h.note) for h in await store.tickets.history(t.id) if h.event]
    assert events == [
        ("dispatch", ""),
        ("accept", ""),
        ("reply", "已修复"),
        ("reopen", "市民表示仍未解决"),
        ("reply", "再次维修"),
        ("close", "满意"),
    ]
    feed = await store.outbox_latest("hotline/v1/unit/cy-cgw/ticket")
    assert feed is not None and json.loads(feed.payload)["event"] == "reopen"
    event = await store.outbox_latest(f"hotline/v1/ticket/{t.id}/event")
    assert event is not None and json.loads(event.payload)["event"] == "close"


async def test_refusals_change_nothing(store: Store) -> None:
    life = TicketLife(store, Topics())
    t = await store.tickets.create("13800000001", status="open")
    with pytest.raises(LifeError) as err:
        await life.accept(UNIT, t.id, actor="unit:cy-cgw")  # not dispatched to it
    assert err.value.status == 403
    await life.dispatch(t.id, UNIT.name, actor="seat:1001")
    with pytest.raises(LifeError) as err:
        await life.accept(OTHER, t.id, actor="unit:hd-sw")
    assert err.value.status == 403
    with pytest.raises(LifeError) as err:
        await life.close(t.id, actor="x")  # the unit has it: no closing from the side
    assert err.value.status == 409
    with pytest.raises(LifeError) as err:
        await life.reopen(t.id, actor="x", note="?")  # nothing replied yet
    assert err.value.status == 409
    with pytest.raises(LifeError):
        await life.give_back(UNIT, t.id, "  ", actor="unit:cy-cgw")
    with pytest.raises(LifeError):
        await life.note(UNIT, t.id, "x" * 2001, actor="unit:cy-cgw")
    with pytest.raises(LifeError) as err:
        await life.accept(UNIT, "nope", actor="unit:cy-cgw")
    assert err.value.status == 404
    after = await store.tickets.get(t.id)
    assert after is not None and after.status == "dispatched"
    assert [h.event for h in await store.tickets.history(t.id)] == ["", "dispatch"]
