"""A console's broker account reaches its own seat and nothing else, against a real mosquitto
and the real line (bus, console, ACD, SQLite): other seats' pops and commands, `#`, and tickets
of which the seat is not the operator are out of reach, whatever the payload claims. A revoked
account is disconnected and refused."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from test_bus import ADMIN, LINE, AnsweringLine, console_client, make_bus, receive

from agents.acd import Acd
from agents.console import Console
from agents.eventlog import EventLog
from ivr.accounts import SeatAccount, SeatAccounts
from ivr.broker import LocalBroker
from ivr.bus import Bus
from ivr.config import QueueSettings, SeatSettings
from ivr.records import SeatState
from ivr.store import SqliteStore, Store

PREFIX = "hotline/v1/seat"


@dataclass
class Line:
    broker: LocalBroker
    store: Store
    bus: Bus
    acd: Acd
    accounts: SeatAccounts

    async def sign_in(self, seat_id: str, session_key: str | None = None) -> SeatAccount:
        return await self.accounts.issue(seat_id, session_key or f"key-{seat_id}".ljust(64, "0"))


@pytest.fixture
async def line(tmp_path: Path) -> AsyncIterator[Line]:
    broker = LocalBroker(data_dir=tmp_path / "mosquitto", lines=(LINE, ADMIN))
    await broker.start()
    store = await SqliteStore.open(tmp_path / "hotline.db")
    bus = make_bus(broker, store)
    seats = [
        SeatSettings(id=i, name=i, uri=f"sip:{i}@127.0.0.1", queues=("general",)) for i in ("1001", "1002")
    ]
    acd = Acd({"general": QueueSettings(name="general")}, seats, AnsweringLine(), events=EventLog(store))
    Console(acd, store, bus).attach()
    accounts = SeatAccounts(bus)
    accounts.attach()
    await acd.start()
    await bus.start()
    await bus.wait_connected(5)
    try:
        yield Line(broker, store, bus, acd, accounts)
    finally:
        await bus.stop()
        await acd.stop()
        await store.close()
        await broker.close()


async def granted(client: aiomqtt.Client, topic: str) -> bool:
    """Whether the broker grants a QoS 1 subscription (128 is its refusal)."""
    codes = await client.subscribe(topic, qos=1)
    return all(int(getattr(c, "value", c)) < 128 for c in codes)


async def test_a_console_reads_only_its_own_seat(line: Line) -> None:
    mine, theirs = await line.sign_in("1001"), await line.sign_in("1002")
    async with console_client(mine) as c, console_client(theirs) as other:
        assert await granted(other, f"{PREFIX}/1002/pop")
        assert await granted(c, f"{PREFIX}/1001/#")
        for topic in ("#", f"{PREFIX}/+/pop", f"{PREFIX}/1002/pop", f"{PREFIX}/1002/#", "$CONTROL/#"):
            assert not await granted(c, topic), topic
        await line.bus.publish(f"{PREFIX}/1002/pop", "screen_pop", {"caller": "13800138000"})
        await line.bus.publish(f"{PREFIX}/1001/pop", "screen_pop", {"caller": "13911112222"})
        got = await receive(c, 1)
        theirs_got = await receive(other, 1)  # the other seat's pop went to its console alone
        with pytest.raises(TimeoutError):
            await receive(c, 1, timeout=1)
    assert [(t, d["caller"]) for t, d in got] == [(f"{PREFIX}/1001/pop", "13911112222")]
    assert theirs_got[0][1]["caller"] == "13800138000"


async def test_a_console_commands_only_its_own_seat(line: Line) -> None:
    async with console_client(await line.sign_in("1001")) as c:
        await c.subscribe(f"{PREFIX}/1001/state", qos=1)
        for seat in ("1002", "1001"):  # the broker drops the first; the second is a control
            await c.publish(f"{PREFIX}/{seat}/command", json.dumps({"action": "login"}), qos=1)
        got = await receive(c, 1)
    assert got[0][1]["state"] == "ready"
    assert line.acd.seats["1001"].state is SeatState.READY
    assert line.acd.seats["1002"].state is SeatState.LOGGED_OUT


async def test_a_console_updates_only_tickets_its_seat_operates(line: Line) -> None:
    own = await line.store.tickets.create("13800138000", operator="1001")
    other = await line.store.tickets.create("13911112222", operator="1002", description="原来的内容")
    takeover = {"operator": "1001", "status": "closed", "description": "改掉"}
    async with console_client(await line.sign_in("1001")) as c:
        await c.subscribe(f"{PREFIX}/1001/ticket/+", qos=1)
        await c.subscribe(f"{PREFIX}/1001/ticket/+/error", qos=1)
        # its own topic, another seat's ticket, a payload that names the other seat
        await c.publish(
            f"{PREFIX}/1001/ticket/{other.id}/update",
            json.dumps({"seat_id": "1002", "fields": {"status": "closed", "description": "改掉"}}),
            qos=1,
        )
        # the other seat's topic: the broker drops it
        await c.publish(f"{PREFIX}/1002/ticket/{other.id}/update", json.dumps({"fields": takeover}), qos=1)
        # its own ticket, but a field no operator may change
        await c.publish(f"{PREFIX}/1001/ticket/{own.id}/update", json.dumps({"fields": takeover}), qos=1)
        # its own ticket, as an operator edits it (the control)
        fields = {"category1": "城市管理", "status": "open"}
        await c.publish(f"{PREFIX}/1001/ticket/{own.id}/update", json.dumps({"fields": fields}), qos=1)
        got = await receive(c, 3)
    async with console_client(await line.sign_in("1001", "n" * 64)) as fresh:  # a later sign-in
        await fresh.subscribe(f"{PREFIX}/1001/ticket/+", qos=1)
        with pytest.raises(TimeoutError):  # tickets are not retained in the broker
            await receive(fresh, 1, timeout=1)
    kinds: list[tuple[str, Any]] = [(d["type"], d.get("ticket_id") or d["ticket"]["id"]) for _, d in got]
    assert kinds == [("ticket_error", other.id), ("ticket_error", own.id), ("ticket", own.id)]
    assert "not the operator" in got[0][1]["error"] and "operator" in got[1][1]["error"]
    after = await line.store.tickets.get(other.id)
    assert after is not None and (after.operator, after.status, after.description) == (
        "1002",
        other.status,
        "原来的内容",
    )
    assert [c.actor for c in await line.store.tickets.history(other.id)] == ["ivr"]  # its creation only
    changed = await line.store.tickets.get(own.id)
    assert changed is not None and (changed.operator, changed.status, changed.category1) == (
        "1001",
        "open",
        "城市管理",
    )
    assert [c.actor for c in await line.store.tickets.history(own.id)] == ["ivr", "seat:1001"]


async def test_a_revoked_account_is_disconnected_and_refused(line: Line) -> None:
    key = "k" * 64
    account = await line.sign_in("1001", key)
    async with console_client(account) as c:
        await c.subscribe(f"{PREFIX}/1001/#", qos=1)
        await line.accounts.revoke("1001", key)
        with pytest.raises(aiomqtt.MqttError):  # the broker closes the connection
            await receive(c, 1, timeout=5)
    with pytest.raises(aiomqtt.MqttError, match=r"[Nn]ot authori[sz]ed"):
        async with console_client(account):
            pass


async def test_signing_in_again_ends_the_seat_earlier_account(line: Line) -> None:
    first = await line.sign_in("1001", "a" * 64)
    second = await line.sign_in("1001", "b" * 64)
    assert first.username != second.username and first.password != second.password
    with pytest.raises(aiomqtt.MqttError, match=r"[Nn]ot authori[sz]ed"):
        async with console_client(first):
            pass
    async with console_client(second) as c:
        assert await granted(c, f"{PREFIX}/1001/pop")


async def test_sweep_deletes_the_accounts_of_ended_sessions(line: Line) -> None:
    ended, alive = await line.sign_in("1001", "e" * 64), await line.sign_in("1002", "l" * 64)

    async def is_alive(key: str) -> bool:
        return key == "l" * 64

    assert await line.accounts.sweep(is_alive) == 1
    with pytest.raises(aiomqtt.MqttError, match=r"[Nn]ot authori[sz]ed"):
        async with console_client(ended):
            pass
    async with console_client(alive) as c:
        assert await granted(c, f"{PREFIX}/1002/pop")
