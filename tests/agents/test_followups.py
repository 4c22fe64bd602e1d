"""Follow-up rules and the line's rounds (agents/followups) over a real SQLite store, with a
scripted line at the seam where SIP would be (the SIP side: tests/ivr/sip/test_outcall.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest

from agents.followups import FollowupCaller, FollowupDesk
from agents.tickets.lifecycle import LifeError, TicketLife
from ivr.bus import Topics
from ivr.flow.calendar import CHINA, TimeRange
from ivr.records import OutboundResult, Unit
from ivr.store import Store, open_store

UNIT = Unit("cy-cgw", "朝阳区城管委")
NINE_AM = dt.datetime(2026, 11, 30, 9, 0, tzinfo=CHINA).timestamp()


class ScriptedLine:
    """Answers each call with the next scripted result; remembers what it was asked to say."""

    def __init__(self, *results: OutboundResult) -> None:
        self.results = list(results)
        self.calls: list[tuple[str, Mapping[str, str]]] = []

    async def call(
        self, number: str, flow: str, variables: Mapping[str, str], call_id: str
    ) -> OutboundResult:
        self.calls.append((number, dict(variables)))
        return self.results.pop(0)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_store(tmp_path / "f.db")
    await s.units.put_unit(UNIT)
    yield s
    await s.close()


async def _setup(store: Store, clock: list[float], line: ScriptedLine) -> tuple[FollowupCaller, str]:
    life = TicketLife(store, Topics(), now=lambda: clock[0])
    desk = FollowupDesk(life, retry_seconds=3600, max_attempts=3, now=lambda: clock[0])
    caller = FollowupCaller(desk, line, hours=(TimeRange(9 * 60, 20 * 60),), now=lambda: clock[0])
    t = await store.tickets.create("13800000001", status="open", description="路灯不亮")
    await life.dispatch(t.id, UNIT.name, actor="seat:1001")
    await life.reply(UNIT, t.id, "已更换灯泡" * 40, "solved", actor="unit:cy-cgw")
    return caller, t.id


async def test_no_answer_retries_then_worklist_and_only_within_hours(store: Store) -> None:
    clock = [NINE_AM - 60]  # 08:59: too early to call anyone
    line = ScriptedLine(*(OutboundResult(o) for o in ("no_answer", "busy", "answered")))
    caller, tid = await _setup(store, clock, line)
    assert await caller.round() == [] and line.calls == []
    clock[0] = NINE_AM
    (task,) = await caller.round()
    assert (task.state, task.attempts, task.last_outcome) == ("due", 1, "no_answer")
    number, said = line.calls[0]
    assert number == "13800000001" and said["unit"] == UNIT.name and len(said["reply"]) == 120  # in brief
    assert await caller.round() == []  # the retry waits an hour
    clock[0] += 3600
    assert (await caller.round())[0].last_outcome == "busy"
    clock[0] += 3600
    (task,) = await caller.round()  # answered but hung up before answering: not reached
    assert (task.state, task.attempts) == ("worklist", 3)
    ticket = await store.tickets.get(tid)
    assert ticket is not None and ticket.status == "replied"  # waits for an operator's call


async def test_answers_close_or_reopen_and_stay_in_the_history(store: Store) -> None:
    clock = [NINE_AM]
    line = ScriptedLine(OutboundResult("answered", {"solved": "no", "satisfaction": "基本满意"}))
    caller, tid = await _setup(store, clock, line)
    (task,) = await caller.round()
    assert task.state == "done" and dict(task.answer)["solved"] is False
    ticket = await store.tickets.get(tid)
    assert (
        ticket is not None
        and ticket.status == "reopened"
        and ticket.survey["followup"]["satisfaction"] == "基本满意"
    )
    history = [
        (h.event, h.note) for h in await store.tickets.history(tid) if h.event in ("followup", "reopen")
    ]
    assert history == [("followup", "未解决，基本满意"), ("reopen", "回访：未解决，基本满意")]
    desk = FollowupDesk(TicketLife(store, Topics()), now=lambda: clock[0])
    with pytest.raises(LifeError):  # answered already: not twice
        await desk.answer(task, True, "满意", by="seat:1001")
    with pytest.raises(LifeError):
        await desk.answer(task, True, "很好", by="seat:1001")


async def test_a_call_left_calling_by_a_stopped_line_is_made_again(tmp_path: Path) -> None:
    clock = [NINE_AM]
    store = await open_store(tmp_path / "stale.db", now=lambda: clock[0])
    try:
        await store.units.put_unit(UNIT)
        line = ScriptedLine(OutboundResult("answered", {"solved": "yes", "satisfaction": "满意"}))
        caller, tid = await _setup(store, clock, line)
        (task,) = await store.followups.for_ticket(tid)
        assert await store.followups.claim(task.id, "due", "calling") is not None  # then the process died
        taken = await store.tickets.create("13900000002", status="replied")
        mine = await store.followups.add(taken.id, taken.caller, clock[0])
        assert await store.followups.claim(mine.id, "due", "calling", operator="1001") is not None
        clock[0] += 60  # a call may still be under way on another node
        assert await caller.round() == [] and line.calls == []
        clock[0] += 1800
        (done,) = await caller.round()  # due again, and called
        assert done.state == "done" and len(line.calls) == 1
        kept = await store.followups.get(mine.id)
        assert kept is not None and (kept.state, kept.operator) == ("calling", "1001")  # the operator's
        ticket = await store.tickets.get(tid)
        assert ticket is not None and ticket.status == "closed"
    finally:
        await store.close()
