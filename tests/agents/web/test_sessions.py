"""Console sessions kept by the store: a restart keeps operators signed in, every node of a centre
accepts every token, and signing out or in again ends a session everywhere. A seat's session
carries a broker account for its MQTT console, which ends with the session."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from web_rig import Rig

from agents.web.guard import SigninGuard
from agents.web.sessions import Sessions, token_hash
from ivr.accounts import SeatAccounts
from ivr.audit import AuditTrail
from ivr.broker import LocalBroker
from ivr.bus import Bus
from ivr.config import MqttSettings, SigninSettings
from ivr.store import AuditQuery, SqliteStore

IDLE_SECONDS = SigninSettings().idle_minutes * 60


def sessions_of(rig: Rig, store: SqliteStore, clock: list[float], **given: Any) -> Sessions:
    """Sessions as the console makes them, on `store`, on the test's clock."""
    audit = AuditTrail(store.audit, lambda: clock[0])
    guard = SigninGuard(store.signins, rig.settings.signin, audit, lambda: clock[0])
    s = rig.settings
    return Sessions(
        s.seats, s.supervisors, store.sessions, guard, audit, signin=s.signin, now=lambda: clock[0], **given
    )


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _token(rig: Rig, body: dict[str, str]) -> str:
    r = await rig.http.post("/api/login", json=body)
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


async def test_a_restart_does_not_sign_operators_out(tmp_path: Path) -> None:
    first = Rig(tmp_path)
    await first.start()
    try:
        seat = await _token(first, {"seat_id": "1001", "password": "pw1001"})
        boss = await _token(first, {"role": "supervisor", "password": "boss"})
    finally:
        await first.stop()  # the server, the ACD and the store all go
    with sqlite3.connect(tmp_path / "web.db") as raw:
        stored = [r[0] for r in raw.execute("SELECT token_hash FROM console_sessions")]
    assert sorted(stored) == sorted([token_hash(seat), token_hash(boss)])  # hashes, not tokens
    second = Rig(tmp_path)
    await second.start()
    try:
        me = await second.http.get("/api/me", headers=bearer(seat))
        assert me.status_code == 200 and me.json()["seat_id"] == "1001"
        assert (await second.http.get("/api/board", headers=bearer(boss))).status_code == 200
        assert (await second.http.get("/api/board", headers=bearer(seat))).status_code == 403
        assert (await second.http.get("/api/me", headers=bearer(seat + "x"))).status_code == 401
    finally:
        await second.stop()


async def test_any_node_serves_any_operator(tmp_path: Path, pg_url: str) -> None:
    a, b = Rig(tmp_path / "a", pg_url), Rig(tmp_path / "b", pg_url)
    await a.start()
    await b.start()
    try:
        old = await _token(a, {"seat_id": "1001", "password": "pw1001"})
        assert (await b.http.get("/api/me", headers=bearer(old))).json()["seat_id"] == "1001"
        # signing in again on the other node ends the first session on both
        new = await _token(b, {"seat_id": "1001", "password": "pw1001"})
        for node in (a, b):
            assert (await node.http.get("/api/me", headers=bearer(old))).status_code == 401
            assert (await node.http.get("/api/me", headers=bearer(new))).status_code == 200
        # signing out on one node signs out on the other
        assert (await a.http.post("/api/logout", headers=bearer(new))).status_code == 200
        assert (await b.http.get("/api/me", headers=bearer(new))).status_code == 401
    finally:
        await a.stop()
        await b.stop()


async def test_idle_sessions_end_and_use_keeps_them(tmp_path: Path) -> None:
    rig = Rig(tmp_path)  # for its settings only
    store = await SqliteStore.open(tmp_path / "s.db")
    clock = [1000.0]
    try:
        sessions = sessions_of(rig, store, clock)
        used = await sessions.login_seat("1001", "pw1001")
        idle = (await sessions.login_supervisor("supervisor", "boss"))[0]
        clock[0] += IDLE_SECONDS * 0.75
        await sessions.get(used.token)  # used within the limit: last seen moves on
        clock[0] += IDLE_SECONDS * 0.5
        assert (await sessions.get(used.token)).seat_id == "1001"
        with pytest.raises(Exception, match="登录已失效") as caught:
            await sessions.get(idle.token)
        assert getattr(caught.value, "status", None) == 401
        assert await store.sessions.get(token_hash(idle.token)) is None  # and it is gone
    finally:
        await store.close()


async def test_a_seat_sign_in_gets_a_broker_account_that_sign_out_and_expiry_revoke(tmp_path: Path) -> None:
    rig = Rig(tmp_path)  # for its settings only
    store = await SqliteStore.open(tmp_path / "s.db")
    clock = [time.time()]
    async with LocalBroker(data_dir=tmp_path / "mosquitto") as broker:
        line = MqttSettings(host="127.0.0.1", port=broker.port, retry_min=0.05, retry_max=0.3)
        bus = Bus(line, store, account=("hotline-ivr", broker.password("hotline-ivr")))
        accounts = SeatAccounts(bus)
        accounts.attach()
        await bus.start()
        try:
            await bus.wait_connected(5)
            sessions = sessions_of(rig, store, clock, accounts=accounts)
            boss = (await sessions.login_supervisor("supervisor", "boss"))[0]
            assert boss.mqtt is None  # supervisors get no broker account
            first = await sessions.login_seat("1001", "pw1001")
            assert first.mqtt is not None and first.mqtt["topic_base"] == "hotline/v1/seat/1001"
            async with console(first.mqtt) as c:
                await c.subscribe("hotline/v1/seat/1001/pop", qos=1)
            await sessions.revoke(first.token)  # sign-out
            with pytest.raises(aiomqtt.MqttError, match=r"[Nn]ot authori[sz]ed"):
                async with console(first.mqtt):
                    pass
            second = await sessions.login_seat("1001", "pw1001")
            assert second.mqtt is not None
            clock[0] += IDLE_SECONDS + 1  # unused for longer than the limit
            with pytest.raises(Exception, match="登录已失效"):
                await sessions.get(second.token)
            with pytest.raises(aiomqtt.MqttError, match=r"[Nn]ot authori[sz]ed"):
                async with console(second.mqtt):
                    pass
        finally:
            await bus.stop()
            await store.close()


def console(account: dict[str, Any]) -> aiomqtt.Client:
    return aiomqtt.Client(
        account["host"],
        account["port"],
        identifier=account["client_id"],
        username=account["username"],
        password=account["password"],
    )


async def test_a_session_ends_at_its_lifetime_even_in_use(tmp_path: Path) -> None:
    rig = Rig(tmp_path)  # for its settings only
    store = await SqliteStore.open(tmp_path / "s.db")
    clock = [1000.0]
    try:
        sessions = sessions_of(rig, store, clock)
        seat = await sessions.login_seat("1001", "pw1001")
        lifetime = rig.settings.signin.session_hours * 3600
        while clock[0] + IDLE_SECONDS / 2 < 1000.0 + lifetime:
            clock[0] += IDLE_SECONDS / 2  # used all along: never idle
            await sessions.get(seat.token)
        clock[0] = 1000.0 + lifetime + 1
        with pytest.raises(Exception, match="最长时限") as caught:
            await sessions.get(seat.token)
        assert getattr(caught.value, "status", None) == 401
        assert await store.sessions.get(token_hash(seat.token)) is None
    finally:
        await store.close()


async def test_one_session_per_supervisor_on_every_node(pg_url: str, tmp_path: Path) -> None:
    """A second sign-in of one supervisor ends the first, wherever it was; another supervisor's
    session stays."""
    from ivr.passwords import hash_password

    boss = {"login": "zhang", "name": "张班长", "password": hash_password("zhang-pass", iterations=1000)}
    extra: dict[str, Any] = {
        "supervisors": [boss, {"login": "li", "name": "李班长", "password": "li-pass-1"}]
    }
    a, b = Rig(tmp_path / "a", pg_url, extra), Rig(tmp_path / "b", pg_url, extra)
    await a.start()
    await b.start()
    try:
        zhang = {"role": "supervisor", "login": "zhang", "password": "zhang-pass"}
        r = await a.http.post("/api/login", json=zhang)  # a hashed password from config
        assert r.status_code == 200 and r.json()["name"] == "张班长"
        first = r.json()["token"]
        li = await _token(a, {"role": "supervisor", "login": "li", "password": "li-pass-1"})
        second = await _token(b, zhang)
        assert (await a.http.get("/api/me", headers=bearer(first))).status_code == 401
        assert (await b.http.get("/api/me", headers=bearer(second))).status_code == 200
        assert (await a.http.get("/api/me", headers=bearer(li))).status_code == 200
        await b.store.audit.flush()
        replaced = await b.store.audit.search(AuditQuery(action="session.replaced"))
        assert [e.actor for e in replaced] == ["supervisor:zhang"]
        bad = {"role": "supervisor", "login": "zhang", "password": "pbkdf2_sha256$1000$00$00"}
        assert (await a.http.post("/api/login", json=bad)).status_code == 401  # a hash is no password
    finally:
        await a.stop()
        await b.stop()
