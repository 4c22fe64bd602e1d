"""The sign-in guard over HTTP: guessing a seat's, a supervisor's or a unit's password is locked
out with back-off, per account and per address; every failure and lockout is logged and in the
audit trail; the lockout holds on every node sharing the store."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from web_rig import Rig, add_unit

from ivr.store import AuditQuery


def shift(rig: Rig, seconds: float) -> None:
    """Move the console's clock for the guard (the lockout) forward."""
    rig.server.guard._now = lambda: time.time() + seconds


async def entries(rig: Rig, **query: str) -> list[str]:
    await rig.store.audit.flush()
    found = await rig.store.audit.search(AuditQuery(**query))  # type: ignore[arg-type]
    return [f"{e.actor} {e.action}" for e in found]


async def test_guessing_a_seat_is_locked_out_with_back_off(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    seat = {"seat_id": "1001", "password": "guess"}
    for _ in range(5):  # [signin] account_failures
        assert (await rig.http.post("/api/login", json=seat)).status_code == 401
    right = {"seat_id": "1001", "password": "pw1001"}
    r = await rig.http.post("/api/login", json=right)
    assert r.status_code == 429 and "秒后再试" in r.json()["error"]
    assert 55 <= int(r.headers["retry-after"]) <= 60  # lockout_seconds
    assert "sign-in locked out: account account:seat:1001" in caplog.text
    assert "sign-in failed for seat:1001 from 127.0.0.1" in caplog.text
    log = await entries(rig, actor="seat:1001")
    assert log.count("seat:1001 signin.failed") == 5
    assert "seat:1001 signin.lockout" in log and "seat:1001 signin.locked" in log

    shift(rig, 61)  # the first lockout is over: one more wrong guess locks for twice as long
    assert (await rig.http.post("/api/login", json=seat)).status_code == 401
    r = await rig.http.post("/api/login", json=right)
    assert r.status_code == 429 and 110 <= int(r.headers["retry-after"]) <= 120
    shift(rig, 61 + 121)
    assert (await rig.http.post("/api/login", json=right)).status_code == 200
    log = await entries(rig, actor="seat:1001", action="signin")
    assert log[0] == "seat:1001 signin"  # newest first
    # a good sign-in clears the account's count: one wrong guess is not a lockout again
    assert (await rig.http.post("/api/login", json=seat)).status_code == 401
    assert (await rig.http.post("/api/login", json=right)).status_code == 200


async def test_one_address_guessing_many_accounts_is_locked_out(rig: Rig) -> None:
    for i in range(20):  # [signin] address_failures, four accounts' worth below their own limit
        body = {"seat_id": f"10{i % 4:02d}", "password": "guess"}
        assert (await rig.http.post("/api/login", json=body)).status_code == 401
    r = await rig.http.post("/api/login", json={"seat_id": "1002", "password": "pw1002"})
    assert r.status_code == 429  # 1002 itself failed 5 times; but so would any account now:
    r = await rig.http.post("/api/login", json={"role": "supervisor", "password": "boss"})
    assert r.status_code == 429
    assert "supervisor:supervisor signin.locked" in await entries(rig, action="signin.locked")


async def test_supervisors_and_unit_staff_have_the_same_guard(rig: Rig) -> None:
    await add_unit(rig, "cy-cgw", "朝阳区城管委", "wang", "unit-pass-1")
    for body in (
        {"role": "supervisor", "password": "guess"},
        {"role": "unit", "login": "wang", "password": "guess"},
        {"role": "unit", "login": "nobody", "password": "guess"},  # unknown logins count too
    ):
        for _ in range(5):
            assert (await rig.http.post("/api/login", json=body)).status_code == 401
    r = await rig.http.post("/api/login", json={"role": "supervisor", "password": "boss"})
    assert r.status_code == 429
    r = await rig.http.post("/api/login", json={"role": "unit", "login": "wang", "password": "unit-pass-1"})
    assert r.status_code == 429
    log = await entries(rig, action="signin.lockout")
    assert {
        "supervisor:supervisor signin.lockout",
        "unit:wang signin.lockout",
        "unit:nobody signin.lockout",
    } <= set(log)


async def test_a_lockout_holds_on_another_node_sharing_the_store(pg_url: str, tmp_path: Path) -> None:
    a, b = Rig(tmp_path / "a", pg_url), Rig(tmp_path / "b", pg_url)
    await a.start()
    await b.start()
    try:
        for _ in range(5):
            r = await a.http.post("/api/login", json={"seat_id": "1001", "password": "guess"})
            assert r.status_code == 401
        r = await b.http.post("/api/login", json={"seat_id": "1001", "password": "pw1001"})
        assert r.status_code == 429
    finally:
        await a.stop()
        await b.stop()
