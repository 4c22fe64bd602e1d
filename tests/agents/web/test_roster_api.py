"""The admins' roster API on a real ACD and SQLite store: teams, seats, CSV import, who may
sign in and who may listen in to whom."""

from __future__ import annotations

from pathlib import Path

import pytest
from web_rig import ADMIN, Rig

from agents.web import roster as roster_desk
from ivr.passwords import hash_password
from ivr.records import SeatRow
from ivr.store import open_store


async def _admin(rig: Rig) -> dict[str, str]:
    r = await rig.http.post("/api/login", json={"role": "admin", "password": ADMIN})
    assert r.status_code == 200, r.text
    return {"authorization": f"Bearer {r.json()['token']}"}


async def test_only_admins_manage_the_roster(rig: Rig) -> None:
    assert (await rig.http.post("/api/login", json={"role": "admin", "password": "nope"})).status_code == 401
    for headers in ({}, await rig.supervisor(), await rig.login("1001")):
        assert (await rig.http.get("/api/admin/roster", headers=headers)).status_code in (401, 403)
    view = (await rig.http.get("/api/admin/roster", headers=await _admin(rig))).json()
    assert [s["id"] for s in view["seats"]] == ["1001", "1002", "1003"]
    assert {s["source"] for s in view["seats"]} == {"config"} and view["shifts"] == [
        "白班",
        "小夜班",
        "通宵夜班",
    ]


async def test_teams_seats_and_an_import_with_line_numbers(rig: Rig) -> None:
    admin = await _admin(rig)
    put = await rig.http.put("/api/admin/teams/t1", json={"name": "一班", "leader": "1001"}, headers=admin)
    assert put.status_code == 200, put.text
    taken = await rig.http.put("/api/admin/teams/t2", json={"name": "一班"}, headers=admin)
    assert taken.status_code == 409 and "一班" in taken.json()["error"]
    config_seat = await rig.http.put(
        "/api/admin/seats/1002", json={"name": "x", "uri": "sip:1002@h"}, headers=admin
    )
    assert config_seat.status_code == 409 and "config.toml" in config_seat.json()["error"]
    bad = await rig.http.put(
        "/api/admin/seats/2001", json={"name": "李明", "uri": "2001@h", "shift": "早班"}, headers=admin
    )
    assert bad.status_code == 400 and "SIP URI" in bad.json()["error"]
    seat = {
        "name": "李明",
        "uri": "sip:2001@127.0.0.1",
        "team": "t1",
        "shift": "小夜班",
        "skills": {"general": 3},
        "queues": ["general"],
        "password": "seat-2001-pw",
    }
    saved = await rig.http.put("/api/admin/seats/2001", json=seat, headers=admin)
    assert saved.status_code == 200, saved.text
    row = next(s for s in saved.json()["seats"] if s["id"] == "2001")
    assert row["team_name"] == "一班" and row["has_password"] and row["source"] == "store"
    # the new seat is in this node's queue and signs in with its hashed password
    assert rig.acd.seats["2001"].settings.shift == "小夜班"
    signed = await rig.http.post("/api/login", json={"seat_id": "2001", "password": "seat-2001-pw"})
    assert signed.status_code == 200, signed.text
    wrong = await rig.http.post("/api/login", json={"seat_id": "2001", "password": "seat-2001-px"})
    assert wrong.status_code == 401

    csv = (
        "id,name,uri,team,shift\n"
        "2002,赵,sip:2002@h,二班,白班\n2003,钱,sip:2003@h,一班,晚班\n1001,孙,sip:1@h,,\n"
    )
    refused = await rig.http.post("/api/admin/seats/import?name=s.csv", content=csv.encode(), headers=admin)
    assert refused.status_code == 422
    assert refused.json()["problems"] == [
        "s.csv:3: shift: expected one of 白班, 小夜班, 通宵夜班 or empty, got '晚班'",
        "s.csv:4: id: seat 1001 is defined in config.toml (change it there)",
    ]
    good = (
        "id,name,uri,team,leader,shift\n2002,赵,sip:2002@h,二班,是,白班\n2003,钱,sip:2003@h,一班,,通宵夜班\n"
    )
    done = await rig.http.post("/api/admin/seats/import", content=good.encode("gb18030"), headers=admin)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["imported"] == 2 and body["new_teams"] == ["二班"]
    teams = {t["name"]: (t["leader"], t["seats"]) for t in body["teams"]}
    assert teams == {"一班": ("1001", 2), "二班": ("2002", 1)}
    assert await rig.store.seat_teams() == {"2001": "一班", "2002": "二班", "2003": "一班"}


async def test_listening_in_and_the_board_follow_the_teams(rig: Rig) -> None:
    admin = await _admin(rig)
    await rig.http.put("/api/admin/teams/t1", json={"name": "一班", "leader": "1001"}, headers=admin)
    await rig.http.put(
        "/api/admin/seats/2001", json={"name": "李明", "uri": "sip:2001@h", "team": "t1"}, headers=admin
    )
    await rig.http.put(
        "/api/admin/seats/2002", json={"name": "赵", "uri": "sip:2002@h", "team": ""}, headers=admin
    )
    leader, other = await rig.login("1001"), await rig.login("1002")
    # no SIP line in this rig: rights are checked first, then 503
    mine = await rig.http.post("/api/seats/2001/supervise", json={"mode": "listen"}, headers=leader)
    assert mine.status_code == 503
    theirs = await rig.http.post("/api/seats/2002/supervise", json={"mode": "listen"}, headers=leader)
    assert theirs.status_code == 403
    assert (
        await rig.http.post("/api/seats/2001/supervise", json={"mode": "listen"}, headers=other)
    ).status_code == 403
    boss = await rig.supervisor()
    unknown = await rig.http.post(
        "/api/seats/2001/supervise", json={"mode": "spy", "phone": "1"}, headers=boss
    )
    assert unknown.status_code == 400
    # the board: a team leader sees their team, the supervisor filters by team
    board = (await rig.http.get("/api/board", headers=leader)).json()
    assert [s["seat_id"] for s in board["seats"]] == ["2001"] and board["team"] == "t1"  # 1001: no team
    assert (await rig.http.get("/api/board", headers=other)).status_code == 403
    everyone = (await rig.http.get("/api/board", headers=boss)).json()
    assert len(everyone["seats"]) == 5 and everyone["teams"][0]["seats"] == 1
    one = (await rig.http.get("/api/board", params={"team": "一班"}, headers=boss)).json()
    assert [s["seat_id"] for s in one["seats"]] == ["2001"] and one["seats"][0]["team_name"] == "一班"
    teams = (await rig.http.get("/api/reports/teams", headers=boss)).json()["rows"]
    assert [(r["team"], r["seats"]) for r in teams] == [("一班", 1), ("（未分班组）", 4)]


async def test_seats_imported_elsewhere_sign_in_without_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `ivr seats import` (another process, the same store) while the console runs."""
    monkeypatch.setattr(roster_desk, "READ_EVERY", 0.05)
    rig = Rig(tmp_path)
    await rig.start()
    try:
        other = await open_store(str(tmp_path / "web.db"))
        try:
            hashed = hash_password("seat-3001-pw", iterations=1000)
            await other.roster.put_seats([SeatRow("3001", "孙", "sip:3001@h", password_hash=hashed)])
        finally:
            await other.close()
        await rig.until(lambda: "3001" in rig.server.roster.current.seats, timeout=5)
        signed = await rig.http.post("/api/login", json={"seat_id": "3001", "password": "seat-3001-pw"})
        assert signed.status_code == 200, signed.text
        assert "3001" in rig.acd.seats
    finally:
        await rig.stop()
