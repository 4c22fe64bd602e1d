"""Ticket updates a seat's console publishes over MQTT (a real mosquitto on 127.0.0.1) follow the
same status rules as the REST path: an illegal move is refused, logged and answered on the seat's
error topic with nothing written; a dispatch is the ticket's life's step (deadline, history)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from agents.acd import Acd
from agents.console import Console
from agents.eventlog import EventLog
from agents.tickets.lifecycle import TicketLife
from ivr.accounts import SeatAccount, SeatAccounts
from ivr.broker import LocalBroker
from ivr.bus import Bus
from ivr.config import MqttSettings, QueueSettings, SeatSettings
from ivr.records import Offer, RingOutcome
from ivr.store import SqliteStore, Store

LINE, ADMIN = "hotline-ivr", "test-admin"
FAST = {"retry_min": 0.05, "retry_max": 0.3, "keepalive": 5}


class AnsweringLine:
    async def ring(self, offer: Offer, timeout: float) -> RingOutcome:
        return "answered"


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[LocalBroker]:
    b = LocalBroker(data_dir=tmp_path / "mosquitto", lines=(LINE, ADMIN))
    await b.start()
    yield b
    await b.close()


def make_bus(broker: LocalBroker, store: Store, line: str) -> Bus:
    settings = MqttSettings(host="127.0.0.1", port=broker.port, client_id=line, **FAST)
    return Bus(settings, store, account=(line, broker.password(line)))


async def seat_account(broker: LocalBroker, tmp_path: Path, seat_id: str) -> SeatAccount:
    store = await SqliteStore.open(tmp_path / "admin.db")
    bus = make_bus(broker, store, ADMIN)
    accounts = SeatAccounts(bus)
    accounts.attach()
    await bus.start()
    try:
        await bus.wait_connected(5)
        return await accounts.issue(seat_id, f"session-of-{seat_id}".ljust(64, "0"))
    finally:
        await bus.stop()
        await store.close()


async def next_message(client: aiomqtt.Client) -> tuple[str, dict[str, Any]]:
    async with asyncio.timeout(10):
        async for m in client.messages:
            assert isinstance(m.payload, bytes)
            if not m.topic.value.endswith("/update"):  # our own requests come back too
                return m.topic.value, json.loads(m.payload)
    raise AssertionError("no message")


async def test_an_illegal_move_over_mqtt_is_refused_and_a_dispatch_is_the_lifes_step(
    broker: LocalBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    account = await seat_account(broker, tmp_path, "1001")
    store = await SqliteStore.open(tmp_path / "hotline.db")
    bus = make_bus(broker, store, LINE)
    seat = SeatSettings(id="1001", name="王芳", uri="sip:1001@127.0.0.1", queues=("general",))
    acd = Acd({"general": QueueSettings(name="general")}, [seat], AnsweringLine(), events=EventLog(store))
    console = Console(acd, store, bus)
    console.life = TicketLife(store, bus.topics, due=lambda _t, at: at + 7200.0)
    console.attach()
    sent = await store.tickets.create(
        "13800138000", operator="1001", status="dispatched", unit="朝阳区城管委"
    )
    filed = await store.tickets.create(
        "13900139000", operator="1001", status="open", category1="城市管理", description="路灯不亮"
    )
    await acd.start()
    await bus.start()
    try:
        await bus.wait_connected(5)
        before = await store.tickets.history(sent.id)
        topics = bus.topics
        async with aiomqtt.Client(
            account.host, account.port, identifier=account.client_id, username=account.username,
            password=account.password,
        ) as c:  # fmt: skip
            await c.subscribe(f"{topics.base}/seat/1001/ticket/#", qos=1)
            for move in ("replied", "reopened", "closed"):  # the unit's and the follow-up's moves
                request = {"id": f"r-{move}", "fields": {"status": move, "description": "改了"}}
                await c.publish(topics.seat_ticket_update("1001", sent.id), json.dumps(request), qos=1)
                topic, body = await next_message(c)
                assert topic == topics.seat_ticket_error("1001", sent.id)
                assert body["type"] == "ticket_error" and body["request"] == f"r-{move}"
                assert ("已派出" if move == "closed" else "status 应为") in body["error"]
            # a dispatch without a unit is refused the same way
            request = {"id": "r-no-unit", "fields": {"status": "dispatched"}}
            await c.publish(topics.seat_ticket_update("1001", filed.id), json.dumps(request), qos=1)
            topic, body = await next_message(c)
            assert topic == topics.seat_ticket_error("1001", filed.id) and "承办单位" in body["error"]
            request = {"id": "r-ok", "fields": {"status": "dispatched", "unit": "朝阳区城管委"}}
            await c.publish(topics.seat_ticket_update("1001", filed.id), json.dumps(request), qos=1)
            for _ in range(2):  # the unit field's change, then the dispatch
                topic, body = await next_message(c)
                assert topic == topics.seat_ticket("1001", filed.id)
        after = await store.tickets.get(sent.id)
        assert after is not None and (after.status, after.description) == ("dispatched", "")
        assert await store.tickets.history(sent.id) == before  # nothing written
        refused = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert sum(f"ticket update {sent.id} from seat 1001 refused" in m for m in refused) == 3
        dispatched = await store.tickets.get(filed.id)
        assert dispatched is not None and dispatched.status == "dispatched"
        assert dispatched.due_at > 0  # the life's deadline, as on the REST path
        events = [h.event for h in await store.tickets.history(filed.id) if h.event]
        assert events == ["dispatch"]
    finally:
        await bus.stop()
        await acd.stop()
        await store.close()
