"""A caller's choices in the shipped main menu reach the operator's screen pop unchanged: the flow
builds the call's context once and the queue, the ticket draft and the pop carry it as it is."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from flow.conftest import QUEUES, FakeCall

from agents.acd import Acd
from agents.lines import SilentLine
from agents.tickets import ScreenPopper
from ivr.bus import Topics
from ivr.config import QueueSettings, SeatSettings
from ivr.flow import FlowLibrary, FlowServices, Interpreter
from ivr.records import CallContext, Offer, QueueRequest, QueueResult, RingOutcome, Understanding
from ivr.store import SqliteStore

FLOWS = Path(__file__).parents[2] / "flows"


class AnsweringLine:
    def __init__(self) -> None:
        self.offers: list[Offer] = []

    async def ring(self, offer: Offer, timeout: float) -> RingOutcome:
        self.offers.append(offer)
        return "answered"


class QueuedCall(FakeCall):
    """A scripted caller whose `enqueue` goes through the real queue; the caller hangs up once
    an operator has answered."""

    def __init__(self, acd: Acd, answers: list[str]) -> None:
        super().__init__(answers)
        self.acd = acd

    async def enqueue(self, request: QueueRequest) -> QueueResult:
        self.enqueued.append(request)
        task = asyncio.ensure_future(self.acd.enqueue(SilentLine(), request))
        for _ in range(500):
            if (
                request.context.call_id in self.acd._entries
                and self.acd._entries[request.context.call_id].state.value == "connected"
            ):
                break
            await asyncio.sleep(0.01)
        self.acd.call_ended(request.context.call_id, "caller")
        return await asyncio.wait_for(task, 5)


@pytest.mark.parametrize("answer", ["2", "投诉"], ids=["by key", "by voice"])
async def test_complaint_reaches_the_screen_pop_as_category_one(tmp_path: Path, answer: str) -> None:
    store = await SqliteStore.open(tmp_path / "hotline.db")
    line = AnsweringLine()
    seat = SeatSettings(
        id="1001",
        name="王芳",
        uri="sip:1001@127.0.0.1",
        queues=("general", "urgent"),
        skills={"complaint": 1},
    )
    queues = {q: QueueSettings(name=q, announce_every=0, wrapup_seconds=0) for q in QUEUES}
    acd = Acd(queues, [seat], line, screen_pop=ScreenPopper(store, Topics("hotline")))
    await acd.start()
    try:
        acd.seat_command("1001", "login")
        acd.seat_command("1001", "ready")
        library = FlowLibrary(FLOWS, queues=QUEUES)
        assert library.load() == []
        snapshot, entry = library.flow_for("12345")
        call = QueuedCall(acd, [answer])
        services = FlowServices(recordings=tmp_path / "messages")
        await asyncio.wait_for(Interpreter(snapshot, call, services).run(entry), 20)

        assert len(line.offers) == 1
        context = line.offers[0].context
        assert context == call.enqueued[0].context  # the very record the flow built
        assert context.category == ("投诉", "", "")
        assert context.call_id == call.call_id and context.caller == call.caller
        assert context.flow == "main" and "main:main_menu" in context.path

        await store.flush()
        [pop] = await store.outbox_pending()
        body: dict[str, Any] = json.loads(pop.payload)
        ticket = body["ticket"]
        assert (ticket["category1"], ticket["category2"], ticket["category3"]) == ("投诉", "", "")
        assert ticket["urgency"] == "normal" and ticket["call_id"] == "call-1"
        assert body["ivr"]["choices"]["category"] == "投诉"
        assert body["ivr"]["path"] == list(context.path)
        said = "caller (按键): 2" if answer == "2" else "caller: 投诉"
        assert said in body["ivr"]["transcript"]
        stored = await store.tickets.get(ticket["id"])
        assert stored is not None and stored.category == ("投诉", "", "")
        assert stored.context["transcript"] == body["ivr"]["transcript"]
    finally:
        await acd.stop()
        await store.close()


def test_a_context_is_frozen() -> None:
    context = CallContext("c1", "13800138000", category=("投诉", "", ""))
    with pytest.raises(AttributeError):
        context.category = ("咨询", "", "")  # type: ignore[misc]


async def test_a_sentence_reaches_the_pop_with_what_it_was_understood_to_mean(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "hotline.db")
    line = AnsweringLine()
    seat = SeatSettings(
        id="1001",
        name="王芳",
        uri="sip:1001@127.0.0.1",
        queues=("general", "urgent"),
        skills={"complaint": 1},
    )
    queues = {q: QueueSettings(name=q, announce_every=0, wrapup_seconds=0) for q in QUEUES}
    acd = Acd(queues, [seat], line, screen_pop=ScreenPopper(store, Topics("hotline")))
    await acd.start()
    try:
        acd.seat_command("1001", "login")
        acd.seat_command("1001", "ready")
        library = FlowLibrary(FLOWS, queues=QUEUES)
        assert library.load() == []
        snapshot, entry = library.flow_for("12345")
        call = QueuedCall(acd, ["朝阳区花家地小区楼下烧烤摊天天弄到半夜，油烟大得窗户都没法开"])
        services = FlowServices(recordings=tmp_path / "messages")
        await asyncio.wait_for(Interpreter(snapshot, call, services).run(entry), 20)

        context = line.offers[0].context
        assert context.understanding is not None and context.understanding.intent == "投诉"
        assert context.category == ("环境保护", "大气污染", "餐饮油烟")
        assert context.address == "朝阳区花家地小区"
        await store.flush()
        [pop] = await store.outbox_pending()
        body: dict[str, Any] = json.loads(pop.payload)
        understood = body["ivr"]["understanding"]
        assert understood["intent"] == "投诉" and understood["urgent"] is False
        assert understood["categories"][0] == "环境保护/大气污染/餐饮油烟"
        assert understood["units"][0] == "市生态环境局朝阳区分局"
        assert understood["reasons"]
        ticket = body["ticket"]
        assert (ticket["category1"], ticket["category3"]) == ("环境保护", "餐饮油烟")
        assert ticket["address"] == "朝阳区花家地小区"
    finally:
        await acd.stop()
        await store.close()


def test_understanding_is_part_of_the_context_record() -> None:
    u = Understanding(
        "我家煤气味", "求助", 0.9, urgent=True, urgent_words=("煤气味",), place={"district": "朝阳区"}
    )
    context = CallContext("c1", "13800138000", understanding=u)
    assert context.ivr()["understanding"]["urgent_words"] == ["煤气味"]
    assert context.ivr()["understanding"]["address"] == "朝阳区"
    assert "understanding" not in CallContext("c2", "138").ivr()
