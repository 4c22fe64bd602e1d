"""The operators' follow-up worklist over the REST API (agents/web/followups.py), against a real
ACD and SQLite store; the dialer is scripted at the seam (SIP: tests/ivr/sip/test_outcall.py)."""

from __future__ import annotations

from dataclasses import replace

from web_rig import Rig, add_unit, unit_login

from ivr.records import OutboundResult

UNIT = "朝阳区城管委"


async def _on_worklist(rig: Rig) -> tuple[str, str]:
    await add_unit(rig, "cy-cgw", UNIT, "wang", "unitpw")
    life = rig.server.life
    t = await rig.store.tickets.create("13800138000", status="open", operator="1001", description="路灯不亮")
    await life.dispatch(t.id, UNIT, actor="seat:1001")
    unit = await rig.store.units.unit("cy-cgw")
    assert unit is not None
    await life.reply(unit, t.id, "已更换灯泡", "solved", actor="unit:cy-cgw")
    (task,) = await rig.store.followups.for_ticket(t.id)  # the reply made it due
    await rig.store.followups.save(replace(task, state="worklist", attempts=3, last_outcome="no_answer"))
    return t.id, task.id


async def test_operator_takes_calls_and_records_the_answer(rig: Rig) -> None:
    tid, task_id = await _on_worklist(rig)
    h1, h2, sup = await rig.login("1001"), await rig.login("1002"), await rig.supervisor()
    listed = (await rig.http.get("/api/followups", headers=sup)).json()["tasks"]
    assert [t["id"] for t in listed] == [task_id]
    assert listed[0]["ticket"]["reply"]["done"] == "已更换灯泡" and listed[0]["caller"] == "13800138000"
    base = f"/api/followups/{task_id}"
    assert (await rig.http.post(base + "/take", headers=sup)).status_code == 403
    assert (
        await rig.http.post(base + "/answer", json={"solved": True, "satisfaction": "满意"}, headers=h1)
    ).status_code == 409
    assert (await rig.http.post(base + "/take", headers=h1)).status_code == 200
    assert (await rig.http.post(base + "/take", headers=h2)).status_code == 409  # one taker
    assert (await rig.http.post(base + "/call", headers=h1)).status_code == 503  # no SIP in this rig
    dialled: list[tuple[str, str, str]] = []

    async def dialer(seat_uri: str, number: str, call_id: str) -> OutboundResult:
        dialled.append((seat_uri, number, call_id))
        return OutboundResult("answered")

    rig.server.followup_pages.dialer = dialer
    r = await rig.http.post(base + "/call", headers=h1)
    assert r.json() == {"outcome": "answered"}
    assert dialled == [("sip:1001@127.0.0.1", "13800138000", f"followup-{task_id}")]  # the seat first
    assert (await rig.http.post(base + "/call", headers=h2)).status_code == 409  # not theirs
    bad = await rig.http.post(base + "/answer", json={"solved": "yes", "satisfaction": "满意"}, headers=h1)
    assert bad.status_code == 400
    r = await rig.http.post(
        base + "/answer", json={"solved": False, "satisfaction": "不满意", "words": "灯还是不亮"}, headers=h1
    )
    assert r.status_code == 200 and r.json()["status"] == "reopened"
    history = [
        (h["event"], h["note"])
        for h in (await rig.http.get(f"/api/tickets/{tid}/history", headers=h1)).json()
    ]
    assert ("followup", "未解决，不满意：灯还是不亮") in history
    assert (await rig.http.get("/api/followups", headers=h1)).json()["tasks"] == []
    u = await unit_login(rig, "wang", "unitpw")
    assert (await rig.http.get("/api/followups", headers=u)).status_code == 403
    inbox = (await rig.http.get("/api/units/cy-cgw/inbox", headers=u)).json()["tickets"]
    assert [t["id"] for t in inbox] == [tid] and inbox[0]["status"] == "reopened"  # 重办


async def test_unit_figures_as_json_and_csv(rig: Rig) -> None:
    tid, task_id = await _on_worklist(rig)
    h1, sup = await rig.login("1001"), await rig.supervisor()
    await rig.http.post(f"/api/followups/{task_id}/take", headers=h1)
    await rig.http.post(
        f"/api/followups/{task_id}/answer", json={"solved": True, "satisfaction": "满意"}, headers=h1
    )
    assert (await rig.http.get("/api/reports/units", headers=h1)).status_code == 403
    (row,) = (await rig.http.get("/api/reports/units", headers=sup)).json()["rows"]
    assert (row["name"], row["received"], row["replied"], row["followups"]) == (UNIT, 1, 1, 1)
    assert (row["on_time_rate"], row["resolution_rate"], row["satisfaction_rate"]) == (1.0, 1.0, 1.0)
    csv = await rig.http.get("/api/reports/units?group=category&format=csv", headers=sup)
    lines = csv.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("name,received,replied,on_time_rate") and lines[1].startswith(
        "（未填）,1,1,1.0"
    )
    assert (await rig.http.get("/api/reports/units?group=street", headers=sup)).status_code == 400
    ticket = await rig.store.tickets.get(tid)
    assert ticket is not None and ticket.status == "closed"


async def test_supervisors_edit_the_knowledge_base_with_history(rig: Rig) -> None:
    h, sup = await rig.login("1001"), await rig.supervisor()
    shipped = (await rig.http.get("/api/knowledge/articles", headers=sup)).json()
    assert len(shipped) > 5 and all(a["actor"] == "seed" for a in shipped)
    assert (await rig.http.get("/api/knowledge/articles", headers=h)).status_code == 403
    body = {
        "title": "小区充电桩申请",
        "keywords": ["充电桩申请"],
        "answer": "可拨打运营企业客服，由物业出具同意安装证明。",
    }
    assert (await rig.http.post("/api/knowledge/articles", json=body, headers=h)).status_code == 403
    added = (await rig.http.post("/api/knowledge/articles", json=body, headers=sup)).json()
    found = (await rig.http.get("/api/knowledge?q=充电桩申请", headers=h)).json()
    assert added["id"] in [a["id"] for a in found]  # operators find it at once
    url = f"/api/knowledge/articles/{added['id']}"
    changed = (await rig.http.patch(url, json={"answer": "请拨打运营企业客服电话。"}, headers=sup)).json()
    assert changed["version"] == 2 and changed["title"] == "小区充电桩申请"
    assert (await rig.http.post(url + "/retire", headers=sup)).json()["retired"] is True
    assert (await rig.http.post(url + "/retire", headers=sup)).status_code == 409
    after = (await rig.http.get("/api/knowledge?q=充电桩申请", headers=h)).json()
    assert all(a["id"] != added["id"] for a in after)  # retired: operators no longer find it
    history = (await rig.http.get(url + "/history", headers=sup)).json()
    assert [(v["version"], v["retired"]) for v in history] == [(1, False), (2, False), (3, True)]
    assert history[0]["answer"].startswith("可拨打")  # what was read out before the change
    assert (
        await rig.http.patch("/api/knowledge/articles/999", json={"title": "x"}, headers=sup)
    ).status_code == 404


async def test_a_taken_task_goes_back_to_the_worklist(rig: Rig) -> None:
    _, task_id = await _on_worklist(rig)
    h1, h2, sup = await rig.login("1001"), await rig.login("1002"), await rig.supervisor()
    base = f"/api/followups/{task_id}"
    assert (await rig.http.post(base + "/release", headers=h1)).status_code == 409  # not taken
    assert (await rig.http.post(base + "/take", headers=h1)).status_code == 200
    assert (await rig.http.post(base + "/release", headers=h2)).status_code == 403  # not theirs
    back = await rig.http.post(base + "/release", headers=h1)
    assert back.status_code == 200 and (back.json()["state"], back.json()["operator"]) == ("worklist", "")
    assert (await rig.http.post(base + "/take", headers=h2)).status_code == 200
    back = await rig.http.post(base + "/release", headers=sup)  # the shift ended: the supervisor frees it
    assert back.status_code == 200 and back.json()["state"] == "worklist"
    listed = (await rig.http.get("/api/followups", headers=h1)).json()["tasks"]
    assert [t["id"] for t in listed] == [task_id]
