"""The console's REST API against a real ACD and SQLite store (uvicorn on a free port)."""

from __future__ import annotations

import json

import httpx
from web_rig import Rig

from agents.tickets import TicketDesk
from ivr.records import SeatState


async def test_login_answers_and_refusals(rig: Rig) -> None:
    ok = await rig.http.post("/api/login", json={"seat_id": "1001", "password": "pw1001"})
    assert ok.status_code == 200 and ok.json()["seat_id"] == "1001" and ok.json()["name"] == "话务员1001"
    assert ok.json()["mqtt"] is None  # this rig issues no broker accounts (test_sessions does)
    for body in (
        {"seat_id": "1001", "password": "wrong"},
        {"seat_id": "9999", "password": "pw1001"},
        {"seat_id": "1003", "password": ""},  # a seat without a password cannot log in
        {"role": "supervisor", "password": "pw1001"},
    ):
        r = await rig.http.post("/api/login", json=body)
        assert r.status_code in (400, 401), (body, r.text)
        assert r.json()["error"]
    r = await rig.http.post("/api/login", content=b"{not json")
    assert r.status_code == 400 and "JSON" in r.json()["error"]
    me = await rig.http.get("/api/me", headers={"authorization": f"Bearer {ok.json()['token']}"})
    assert me.json()["seat"]["state"] == "logged_out"
    assert (await rig.http.get("/api/me")).status_code == 401


async def test_state_controls_and_other_seats(rig: Rig) -> None:
    h = await rig.login("1001")

    async def post(body: dict[str, str], seat: str = "1001") -> httpx.Response:
        return await rig.http.post(f"/api/seats/{seat}/state", json=body, headers=h)

    assert (await post({"action": "ready"})).status_code == 409  # must sign in first
    r = await post({"action": "login"})
    assert r.status_code == 200 and r.json()["state"] == "ready"
    r = await post({"action": "not_ready", "reason": "training"})
    assert r.json()["state"] == "not_ready" and r.json()["reason"] == "training"
    r = await post({"action": "not_ready"})
    assert r.status_code == 409 and "reason" in r.json()["error"]
    assert (await post({"action": "dance"})).status_code == 400
    # a token for 1001 cannot see or steer 1002
    assert (await post({"action": "login"}, seat="1002")).status_code == 403
    assert (await rig.http.get("/api/seats/1002", headers=h)).status_code == 403
    assert (await rig.http.get("/api/seats/1002/offer", headers=h)).status_code == 403
    assert rig.acd.seats["1002"].state is SeatState.LOGGED_OUT
    assert (await post({"action": "logout"})).json()["state"] == "logged_out"


async def test_screen_pop_and_ticket_autosave(rig: Rig) -> None:
    old = await rig.store.tickets.create(
        "13800138000", status="closed", category1="城市管理", description="上次"
    )
    h = await rig.login("1001")
    await rig.http.post("/api/seats/1001/state", json={"action": "login"}, headers=h)
    rig.call("c1", transcript=("楼上装修太吵",))
    await rig.until(lambda: rig.acd.seats["1001"].state is SeatState.TALKING)
    offer = (await rig.http.get("/api/seats/1001/offer", headers=h)).json()["offer"]
    assert offer["call"]["caller"] == "13800138000" and offer["call"]["call_id"] == "c1"
    assert offer["ivr"]["path"] == ["greeting", "main_menu", "operator"]
    assert offer["ivr"]["transcript"] == ["楼上装修太吵"]
    assert [t["id"] for t in offer["history"]] == [old.id] and offer["history"][0]["status"] == "closed"
    tid = offer["ticket"]["id"]
    assert offer["ticket"]["operator"] == "1001" and offer["ticket"]["status"] == "draft"

    fields = {
        "category1": "环境保护",
        "category2": "噪声污染",
        "category3": "装修噪音",
        "address": "朝阳区建国路1号",
    }
    r = await rig.http.patch(f"/api/tickets/{tid}", json={"fields": fields}, headers=h)
    assert r.status_code == 200 and r.json()["category3"] == "装修噪音"
    r = await rig.http.patch(f"/api/tickets/{tid}", json={"fields": {"description": "夜间装修"}}, headers=h)
    saved = await rig.store.tickets.get(tid)
    assert saved is not None and saved.description == "夜间装修" and saved.address == "朝阳区建国路1号"
    history = (await rig.http.get(f"/api/tickets/{tid}/history", headers=h)).json()
    assert history[-1]["actor"] == "seat:1001" and history[-1]["changes"]["description"] == ["", "夜间装修"]
    # the seat's MQTT desk clients still hear every change, on the seat's own ticket topic
    latest = await rig.store.outbox_latest(f"hotline/v1/seat/1001/ticket/{tid}")
    assert latest is not None and json.loads(latest.payload)["ticket"]["description"] == "夜间装修"

    r = await rig.http.patch(f"/api/tickets/{tid}", json={"fields": {"status": "dispatched"}}, headers=h)
    assert r.status_code == 422 and "承办单位" in r.json()["error"]
    unit = {"unit": "朝阳区生态环境分局", "status": "dispatched"}
    r = await rig.http.patch(f"/api/tickets/{tid}", json={"fields": unit}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "dispatched"


async def test_bad_ticket_updates_change_nothing(rig: Rig) -> None:
    h1, h2 = await rig.login("1001"), await rig.login("1002")
    await rig.http.post("/api/seats/1001/state", json={"action": "login"}, headers=h1)
    rig.call("c2")
    await rig.until(lambda: rig.acd.seats["1001"].state is SeatState.TALKING)
    tid = (await rig.http.get("/api/seats/1001/offer", headers=h1)).json()["offer"]["ticket"]["id"]
    before = await rig.store.tickets.get(tid)
    url = f"/api/tickets/{tid}"
    cases = [
        (b"{broken", 400, "JSON"),
        (b"[1, 2]", 400, "JSON 对象"),
        (json.dumps({"fields": "text"}).encode(), 400, "fields"),
        (json.dumps({"fields": {"caller": "110"}}).encode(), 400, "caller"),
        (json.dumps({"fields": {"address": 5}}).encode(), 400, "address"),
        (json.dumps({"fields": {"status": "lost"}}).encode(), 400, "status"),
        (json.dumps({"fields": {"description": "长" * 5001}}).encode(), 413, "5000"),
        (json.dumps({"fields": {"description": "x" * 70000}}).encode(), 413, "KB"),
    ]
    for body, status, words in cases:
        r = await rig.http.patch(url, content=body, headers=h1)
        assert r.status_code == status and words in r.json()["error"], (body[:40], r.text)
    r = await rig.http.patch(url, json={"fields": {"description": "别人的"}}, headers=h2)
    assert r.status_code == 403
    assert (await rig.http.get(url, headers=h2)).status_code == 403
    assert (await rig.http.get("/api/tickets/20000101000001", headers=h1)).status_code == 404
    assert (await rig.http.patch(url, json={"fields": {"description": "x"}})).status_code == 401
    assert await rig.store.tickets.get(tid) == before
    assert len(await rig.store.tickets.history(tid)) == 1  # the creation only


async def test_supervisor_board_charts_and_reports(rig: Rig) -> None:
    h, sup = await rig.login("1001"), await rig.supervisor()
    assert (await rig.http.get("/api/board", headers=h)).status_code == 403
    await rig.http.post("/api/seats/1001/state", json={"action": "login"}, headers=h)
    rig.call("c3")
    await rig.until(lambda: rig.acd.seats["1001"].state is SeatState.TALKING)
    rig.acd.call_ended("c3", "caller")
    await rig.http.post("/api/seats/1001/state", json={"action": "end_wrapup"}, headers=h)
    board = (await rig.http.get("/api/board", headers=sup)).json()
    q = board["queues"][0]
    assert q["queue"] == "general" and q["entered"] == 1 and q["answered"] == 1 and q["service_level"] == 1.0
    assert q["waiting"] == 0 and q["aht"] is not None and q["alert"] is False
    seat = next(s for s in board["seats"] if s["seat_id"] == "1001")
    assert seat["state"] == "ready" and seat["calls_today"] == 1
    charts = (await rig.http.get("/api/charts", headers=sup)).json()
    assert sum(charts["entered"]) == 1 and sum(charts["answered"]) == 1 and max(charts["waiting"]) == 1
    # the caller's post-call survey (flows/survey.yaml) counts for the operator who took the call
    (taken,) = await rig.store.tickets.since(0.0)  # still a draft: counted all the same
    await TicketDesk(rig.store).save_survey(taken.id, {"satisfaction": "满意"})
    other = await rig.store.tickets.create("13900000000", status="open", operator="1001")
    await TicketDesk(rig.store).save_survey(other.id, {"satisfaction": "不满意"})
    await rig.store.tickets.create("13700000000", status="open", operator="1001")  # not surveyed
    report = (await rig.http.get("/api/reports/operators", headers=sup)).json()["rows"]
    row = next(r for r in report if r["seat_id"] == "1001")
    assert row["calls"] == 1 and row["wrapup_seconds"] >= 0 and row["aht"] is not None
    assert (row["surveys"], row["satisfaction_rate"]) == (2, 0.5)
    assert next(r for r in report if r["seat_id"] == "1002")["surveys"] == 0
    csv = await rig.http.get("/api/reports/queues?format=csv", headers=sup)
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("queue,entered,answered") and lines[1].startswith("general,1,1,1,")
    bad = await rig.http.get("/api/reports/queues?from=2024-13-01", headers=sup)
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.json()["error"]
    bad = await rig.http.get("/api/reports/queues?from=2024-06-02&to=2024-06-01", headers=sup)
    assert bad.status_code == 400
