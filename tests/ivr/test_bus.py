"""The bus against a real mosquitto on 127.0.0.1: delivery, broker outage, restarts, commands,
TLS. The line and the consoles connect with their accounts (the broker admits no one else)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from agents.acd import Acd
from agents.console import Console
from agents.eventlog import EventLog
from agents.tickets import ScreenPopper
from ivr.accounts import SeatAccount, SeatAccounts
from ivr.broker import LocalBroker
from ivr.bus import Bus, Topics
from ivr.config import MqttSettings, QueueSettings, SeatSettings
from ivr.records import CallContext, Offer, QueueRequest, RingOutcome, SeatEvent, SeatState
from ivr.store import SqliteStore, Store

FAST = {"retry_min": 0.05, "retry_max": 0.3, "keepalive": 5}


LINE, ADMIN = "hotline-ivr", "test-admin"  # the line under test; a second line issuing accounts


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[LocalBroker]:
    b = LocalBroker(data_dir=tmp_path / "mosquitto", lines=(LINE, ADMIN))
    await b.start()
    yield b
    await b.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await SqliteStore.open(tmp_path / "hotline.db")
    yield s
    await s.close()


def make_bus(broker: LocalBroker, store: Store, line: str = LINE) -> Bus:
    settings = MqttSettings(host="127.0.0.1", port=broker.port, client_id=line, **FAST)
    return Bus(settings, store, account=(line, broker.password(line)))


async def seat_account(broker: LocalBroker, tmp_path: Path, seat_id: str) -> SeatAccount:
    """An account for seat `seat_id`'s console, issued as the line does at sign-in."""
    store = await SqliteStore.open(tmp_path / f"admin-{seat_id}.db")
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


def console_client(account: SeatAccount) -> aiomqtt.Client:
    # a console with a persistent session: the broker queues QoS 1 pops while it is away
    return aiomqtt.Client(
        account.host,
        account.port,
        identifier=account.client_id,
        username=account.username,
        password=account.password,
        clean_session=False,
    )


async def receive(client: aiomqtt.Client, n: int, timeout: float = 10.0) -> list[tuple[str, dict[str, Any]]]:
    got: list[tuple[str, dict[str, Any]]] = []
    async with asyncio.timeout(timeout):
        async for m in client.messages:
            assert isinstance(m.payload, bytes)
            got.append((m.topic.value, json.loads(m.payload)))
            if len(got) >= n:
                break
    return got


async def test_publish_is_delivered_in_order_and_marked(
    broker: LocalBroker, store: Store, tmp_path: Path
) -> None:
    bus = make_bus(broker, store)
    async with console_client(await seat_account(broker, tmp_path, "1001")) as c:
        await c.subscribe("hotline/v1/seat/1001/#", qos=1)
        await bus.start()
        try:
            for i in range(50):
                await bus.publish(bus.topics.seat_pop("1001"), "test", {"n": i})
            got = await receive(c, 50)
            await bus.drain(5)
            assert bus.delivered == 50
        finally:
            await bus.stop()
    assert [d["n"] for _, d in got] == list(range(50))
    assert all(d["v"] == 1 and d["type"] == "test" and len(d["id"]) == 32 for _, d in got)
    await store.flush()
    assert await store.outbox_pending() == []


class AnsweringLine:
    async def ring(self, offer: Offer, timeout: float) -> RingOutcome:
        return "answered"


class QuietCaller:
    async def start_hold_music(self) -> None: ...
    async def stop_hold_music(self) -> None: ...
    async def announce(self, text: str) -> None: ...


async def test_screen_pop_and_ticket_update_arrive_after_the_broker_returns(
    broker: LocalBroker, store: Store, tmp_path: Path
) -> None:
    account = await seat_account(broker, tmp_path, "1001")
    async with console_client(account) as c:  # subscribe once, then go away
        await c.subscribe("hotline/v1/seat/1001/pop", qos=1)
        await c.subscribe("hotline/v1/seat/1001/ticket/+", qos=1)
    bus = make_bus(broker, store)
    await bus.start()
    await bus.wait_connected(5)
    seat = SeatSettings(id="1001", name="王芳", uri="sip:1001@127.0.0.1", queues=("general",))
    log, talking = EventLog(store), asyncio.Event()
    log.listen(lambda e: talking.set() if isinstance(e, SeatEvent) and e.state is SeatState.TALKING else None)
    acd = Acd(
        {"general": QueueSettings(name="general", announce_every=0)},
        [seat],
        AnsweringLine(),
        events=log,
        screen_pop=ScreenPopper(store, bus.topics),
    )
    console = Console(acd, store, bus)
    await acd.start()
    try:
        await broker.stop()
        old = await store.tickets.create("13800138000", status="closed", description="上次的噪音投诉")
        acd.seat_command("1001", "login")
        ctx = CallContext(
            "call-1",
            "13800138000",
            path=("main", "complaint"),
            choices={"main": "2"},
            transcript=("楼上装修太吵",),
            urgency="urgent",
        )
        call = asyncio.create_task(acd.enqueue(QuietCaller(), QueueRequest("general", ctx, priority=1)))
        await asyncio.wait_for(talking.wait(), 5)
        ticket_id = acd._entries["call-1"].ticket_id
        assert ticket_id is not None
        draft = await store.tickets.get(ticket_id)
        assert draft is not None and (draft.status, draft.operator, draft.call_id) == (
            "draft",
            "1001",
            "call-1",
        )
        updated = await console.update_ticket(ticket_id, {"status": "open", "category1": "噪音"}, "seat:1001")
        assert updated is not None
        assert not bus.connected.is_set()
        await asyncio.sleep(0.5)  # the bus keeps retrying meanwhile
        await broker.start()
        await bus.wait_connected(5)
        async with console_client(account) as c:  # the account survived the broker's restart
            got = dict((t.rsplit("/", 1)[-1], d) for t, d in await receive(c, 2))
        pop = got["pop"]
        assert pop["type"] == "screen_pop" and pop["v"] == 1
        assert pop["call"]["caller"] == "13800138000" and pop["urgency"] == "urgent"
        assert pop["ivr"]["transcript"] == ["楼上装修太吵"] and pop["ivr"]["path"] == ["main", "complaint"]
        assert [h["id"] for h in pop["history"]] == [old.id]
        assert got[updated.id]["ticket"]["status"] == "open"
        assert pop["ticket"]["id"] == updated.id
        acd.call_ended("call-1", "operator")
        assert (await call).ticket_id == updated.id
    finally:
        await acd.stop()
        await bus.stop()


async def test_outbox_survives_a_process_restart(broker: LocalBroker, tmp_path: Path) -> None:
    path = tmp_path / "restart.db"
    account = await seat_account(broker, tmp_path, "7")
    await broker.stop()
    s = await SqliteStore.open(path)
    bus = make_bus(broker, s)
    await bus.start()
    await bus.publish("hotline/v1/seat/7/pop", "screen_pop", {"n": 1})
    await bus.stop()
    await s.close()  # the process "dies" with the broker still down
    await broker.start()
    s = await SqliteStore.open(path)
    bus = make_bus(broker, s)
    try:
        async with console_client(account) as c:
            await c.subscribe("hotline/v1/seat/7/pop", qos=1)
            await bus.start()
            got = await receive(c, 1)
        assert got[0][1]["n"] == 1
    finally:
        await bus.stop()
        await s.close()


async def test_seat_commands_over_mqtt_drive_the_acd_and_state_is_published(
    broker: LocalBroker, store: Store, tmp_path: Path
) -> None:
    account = await seat_account(broker, tmp_path, "1002")
    bus = make_bus(broker, store)
    log = EventLog(store)
    seat = SeatSettings(id="1002", name="李强", uri="sip:1002@127.0.0.1", queues=("general",))
    acd = Acd({"general": QueueSettings(name="general")}, [seat], AnsweringLine(), events=log)
    Console(acd, store, bus).attach()
    await acd.start()
    await bus.start()
    await bus.wait_connected(5)
    try:
        async with console_client(account) as c:
            await c.subscribe("hotline/v1/seat/1002/state", qos=1)
            for cmd in (
                {"action": "login"},
                {"action": "not_ready", "reason": "training"},
                {"action": "fly"},
            ):
                await c.publish("hotline/v1/seat/1002/command", json.dumps(cmd), qos=1)
            got = [d for _, d in await receive(c, 3)]
        assert [(d["type"], d.get("state"), d.get("reason")) for d in got] == [
            ("seat_state", "ready", ""),
            ("seat_state", "not_ready", "training"),
            ("seat_error", "not_ready", "training"),
        ]
        assert acd.seats["1002"].reason == "training"
    finally:
        await bus.stop()
        await acd.stop()


def test_hot_spot_topic_is_one_level_per_place_and_problem() -> None:
    topic = Topics("hotline").hot_spot("花家地小区", "住房保障/房屋质量")
    assert topic == "hotline/v1/hotspot/花家地小区|住房保障_房屋质量"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key, made by openssl."""
    cert, key = folder / "broker.pem", folder / "broker.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


async def test_the_line_reaches_a_tls_broker_with_its_ca(store: Store, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    async with LocalBroker(data_dir=tmp_path / "tls-broker", lines=(LINE, ADMIN), tls=(cert, key)) as broker:
        plain = make_bus(broker, store)  # no tls_ca: plain TCP to a TLS listener gets nowhere
        await plain.start()
        with pytest.raises(TimeoutError):
            await plain.wait_connected(1.5)
        await plain.stop()
        settings = MqttSettings(host="127.0.0.1", port=broker.port, client_id=LINE, tls_ca=str(cert), **FAST)
        bus = Bus(settings, store, account=(LINE, broker.password(LINE)))
        await bus.start()
        try:
            await bus.wait_connected(5)
            await bus.publish(bus.topics.seat_pop("1001"), "screen_pop", {"n": 1})
            await bus.drain(5)
        finally:
            await bus.stop()
        assert bus.delivered == 1
        # a client that speaks TLS but has no account is refused all the same
        with pytest.raises(aiomqtt.MqttError, match=r"[Nn]ot authori[sz]ed"):
            tls = aiomqtt.TLSParameters(ca_certs=str(cert))
            async with aiomqtt.Client("127.0.0.1", broker.port, identifier="stranger", tls_params=tls):
                pass
