"""A unit's side over the REST API (agents/web/units.py) and the dispatch desk's answers to a
return (agents/web/dispatch.py), against a real ACD and SQLite store on a free port."""

from __future__ import annotations

import json

from web_rig import Rig, add_unit, unit_login

from ivr.records import SeatState

UNIT = "朝阳区城管委"


async def _dispatched(rig: Rig, headers: dict[str, str], call_id: str, unit: str = UNIT) -> str:
    await rig.http.post("/api/seats/1001/state", json={"action": "login"}, headers=headers)
    rig.call(call_id)
    await rig.until(lambda: rig.acd.seats["1001"].state is SeatState.TALKING)
    tid = str((await rig.http.get("/api/seats/1001/offer", headers=headers)).json()["offer"]["ticket"]["id"])
    fields = {"category1": "城市管理", "description": "路灯不亮", "unit": unit, "status": "dispatched"}
    r = await rig.http.patch(f"/api/tickets/{tid}", json={"fields": fields}, headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "dispatched", r.text
    rig.acd.call_ended(call_id, "caller")
    await rig.http.post("/api/seats/1001/state", json={"action": "end_wrapup"}, headers=headers)
    return tid


async def test_unit_sign_in_inbox_accept_note_reply(rig: Rig) -> None:
    await add_unit(rig, "cy-cgw", UNIT, "wang", "unitpw")
    for body in (
        {"role": "unit", "login": "wang", "password": "nope"},
        {"role": "unit", "login": "x", "password": "unitpw"},
    ):
        r = await rig.http.post("/api/login", json=body)
        assert r.status_code == 401 and r.json()["error"] == "账号或密码错误"
    seat = await rig.login("1001")
    tid = await _dispatched(rig, seat, "c1")
    u = await unit_login(rig, "wang", "unitpw")

    inbox = (await rig.http.get("/api/units/cy-cgw/inbox", headers=u)).json()["tickets"]
    assert [t["id"] for t in inbox] == [tid]
    assert inbox[0]["caller"] == "138****8000"  # units never see the citizen's number
    # the unit learnt of it on its MQTT feed, committed with the dispatch
    feed = await rig.store.outbox_latest("hotline/v1/unit/cy-cgw/ticket")
    assert feed is not None and json.loads(feed.payload)["ticket_id"] == tid

    base = f"/api/units/cy-cgw/tickets/{tid}"
    assert (await rig.http.post(base + "/accept", headers=u)).json()["status"] == "accepted"
    assert (await rig.http.post(base + "/accept", headers=u)).status_code == 409  # twice: no
    assert (await rig.http.post(base + "/notes", json={"text": "已联系路灯所"}, headers=u)).status_code == 200
    r = await rig.http.post(base + "/reply", json={"done": "已更换灯泡", "result": "maybe"}, headers=u)
    assert r.status_code == 400
    r = await rig.http.post(base + "/reply", json={"done": "已更换灯泡", "result": "solved"}, headers=u)
    assert (
        r.status_code == 200 and r.json()["status"] == "replied" and r.json()["reply"]["done"] == "已更换灯泡"
    )
    assert (await rig.http.get("/api/units/cy-cgw/inbox", headers=u)).json()["tickets"] == []
    detail = (await rig.http.get(base, headers=u)).json()
    events = [(h["event"], h["note"]) for h in detail["history"] if h["event"]]
    assert events == [("dispatch", ""), ("accept", ""), ("note", "已联系路灯所"), ("reply", "已更换灯泡")]
    assert detail["history"][-1]["actor"] == "unit:cy-cgw"
    # the operator sees what became of the ticket
    mine = (await rig.http.get("/api/tickets?status=replied", headers=seat)).json()["tickets"]
    assert [t["id"] for t in mine] == [tid]
    history = (await rig.http.get(f"/api/tickets/{tid}/history", headers=seat)).json()
    assert history[-1]["event"] == "reply"


async def test_units_are_kept_apart_and_cannot_use_the_centre_api(rig: Rig) -> None:
    await add_unit(rig, "cy-cgw", UNIT, "wang", "unitpw")
    await add_unit(rig, "hd-hbj", "海淀区生态环境局", "li", "unitpw2")
    seat = await rig.login("1001")
    tid = await _dispatched(rig, seat, "c2")
    other = await unit_login(rig, "li", "unitpw2")
    assert (await rig.http.get("/api/units/cy-cgw/inbox", headers=other)).status_code == 403
    assert (await rig.http.get(f"/api/units/hd-hbj/tickets/{tid}", headers=other)).status_code == 404
    assert (await rig.http.post(f"/api/units/hd-hbj/tickets/{tid}/accept", headers=other)).status_code == 403
    assert (await rig.http.get(f"/api/tickets/{tid}", headers=other)).status_code == 403
    assert (await rig.http.get("/api/tickets", headers=other)).status_code == 403
    assert (await rig.http.get("/api/board", headers=other)).status_code == 403
    sup = await rig.supervisor()
    assert (await rig.http.get("/api/units/cy-cgw/inbox", headers=sup)).status_code == 200
    assert (await rig.http.post(f"/api/units/cy-cgw/tickets/{tid}/accept", headers=sup)).status_code == 403
    ticket = await rig.store.tickets.get(tid)
    assert ticket is not None and ticket.status == "dispatched"


async def test_return_then_dispatch_desk_sends_it_elsewhere(rig: Rig) -> None:
    await add_unit(rig, "cy-cgw", UNIT, "wang", "unitpw")
    await add_unit(rig, "cy-sw", "朝阳区水务局", "zhao", "unitpw3")
    seat, sup = await rig.login("1001"), await rig.supervisor()
    tid = await _dispatched(rig, seat, "c3")
    u = await unit_login(rig, "wang", "unitpw")
    base = f"/api/units/cy-cgw/tickets/{tid}"
    assert (await rig.http.post(base + "/return", json={"reason": ""}, headers=u)).status_code == 400
    r = await rig.http.post(base + "/return", json={"reason": "属于水务管辖"}, headers=u)
    assert r.status_code == 200 and r.json()["status"] == "returned"
    # the operator may no longer change the status; the dispatch desk decides
    r = await rig.http.patch(f"/api/tickets/{tid}", json={"fields": {"status": "closed"}}, headers=seat)
    assert r.status_code == 409
    assert (
        await rig.http.post(f"/api/tickets/{tid}/dispatch", json={"unit": "朝阳区水务局"}, headers=seat)
    ).status_code == 403
    returned = (await rig.http.get("/api/tickets?status=returned", headers=sup)).json()["tickets"]
    assert [t["id"] for t in returned] == [tid] and returned[0]["caller"] == "13800138000"
    r = await rig.http.post(f"/api/tickets/{tid}/dispatch", json={"unit": "朝阳区水务局"}, headers=sup)
    assert r.status_code == 200 and r.json()["unit"] == "朝阳区水务局" and r.json()["status"] == "dispatched"
    assert (
        await rig.http.post(f"/api/tickets/{tid}/close", json={"note": "x"}, headers=sup)
    ).status_code == 409
    z = await unit_login(rig, "zhao", "unitpw3")
    assert [t["id"] for t in (await rig.http.get("/api/units/cy-sw/inbox", headers=z)).json()["tickets"]] == [
        tid
    ]
    assert (await rig.http.post(base + "/accept", headers=u)).status_code == 403  # no longer theirs
    history = await rig.store.tickets.history(tid)
    assert [(h.event, h.note) for h in history if h.event] == [
        ("dispatch", ""),
        ("return", "属于水务管辖"),
        ("redispatch", ""),
    ]


async def test_search_own_tickets_and_supervisor_all(rig: Rig) -> None:
    seat1, seat2, sup = await rig.login("1001"), await rig.login("1002"), await rig.supervisor()
    tid = await _dispatched(rig, seat1, "c4", unit="某未登记单位")  # a unit without an account
    other = await rig.store.tickets.create(
        "13900000000", status="open", operator="1002", category1="环境保护"
    )
    assert [t["id"] for t in (await rig.http.get("/api/tickets", headers=seat1)).json()["tickets"]] == [tid]
    # asking for another seat's tickets still finds only one's own
    r = await rig.http.get("/api/tickets?operator=1002", headers=seat1)
    assert [t["id"] for t in r.json()["tickets"]] == [tid]
    assert [t["id"] for t in (await rig.http.get("/api/tickets", headers=seat2)).json()["tickets"]] == [
        other.id
    ]
    found = (await rig.http.get("/api/tickets?caller=13800138000&category=城市管理", headers=sup)).json()[
        "tickets"
    ]
    assert [t["id"] for t in found] == [tid] and found[0]["seconds_left"] > 3600
    assert len((await rig.http.get("/api/tickets", headers=sup)).json()["tickets"]) == 2
    assert (await rig.http.get(f"/api/tickets?number={tid[:8]}", headers=sup)).json()["tickets"][0]["id"] in (
        tid,
        other.id,
    )
    assert (await rig.http.get("/api/tickets?status=lost", headers=sup)).status_code == 400
    assert (await rig.http.get("/api/tickets?from=2026-13-01", headers=sup)).status_code == 400
    assert (await rig.http.get("/api/tickets?from=2000-01-01&to=2000-01-02", headers=sup)).json()[
        "tickets"
    ] == []


async def test_oversight_shows_overdue_tickets_and_calendar_warnings(rig: Rig) -> None:
    await add_unit(rig, "cy-cgw", UNIT, "wang", "unitpw")
    seat, sup = await rig.login("1001"), await rig.supervisor()
    tid = await _dispatched(rig, seat, "c5")
    ticket = await rig.store.tickets.get(tid)
    assert ticket is not None and ticket.due_at > ticket.updated_at + 3600  # 5 working days ahead
    await rig.store.tickets.update(tid, {"due_at": 1.0}, actor="test")  # long overdue
    await rig.server.watch.sweep()
    assert (await rig.http.get("/api/oversight", headers=seat)).status_code == 403
    body = (await rig.http.get("/api/oversight", headers=sup)).json()
    assert body["overdue"] == 1 and body["units"] == [{"unit": UNIT, "overdue": 1, "due_soon": 0}]
    # the rig's config folder has no holiday file: the board says so, in words for the supervisor
    assert any("时限日历无法读取" in w for w in body["warnings"])
    u = await unit_login(rig, "wang", "unitpw")
    inbox = (await rig.http.get("/api/units/cy-cgw/inbox", headers=u)).json()["tickets"]
    assert inbox[0]["overdue"] is True and inbox[0]["seconds_left"] < 0
