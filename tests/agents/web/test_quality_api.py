"""/api/qa/... against a real console, ACD and SQLite store: rights (no anonymous access, an
operator sees only their own calls and scores, a reviewer sees all, units nothing), scoring
with the checklist, one appeal per call, one decision, the figures per seat and team, CSV."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from qa_seed import answered_call, with_checklist
from web_rig import Rig, add_unit, unit_login

FULL = {"greeting": 5, "listening": 15, "accuracy": 20, "classification": 15, "answer": 20, "attitude": 15,
        "closing": 10}  # fmt: skip


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = Rig(tmp_path)
    with_checklist(r)
    seats = tuple(replace(s, team="一班" if s.id == "1001" else "二班") for s in r.settings.seats)
    r.settings = replace(r.settings, seats=seats)
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


async def test_rights_scores_appeal_once_and_figures(rig: Rig, tmp_path: Path) -> None:
    await answered_call(rig, "call-a", "1001")
    await answered_call(rig, "call-b", "1002")
    await answered_call(rig, "call-x", "1001", recording=Path("/etc/hostname.wav"))
    boss, op1, op2 = await rig.supervisor(), await rig.login("1001"), await rig.login("1002")
    http = rig.http

    for path in (
        "/api/qa/queue",
        "/api/qa/scores",
        "/api/qa/calls/call-a",
        "/api/qa/calls/call-a/recordings/0",
    ):
        assert (await http.get(path)).status_code == 401, path
    r = await http.post("/api/qa/sample", headers=boss)
    assert r.status_code == 200 and r.json()["added"] == 3
    queue = (await http.get("/api/qa/queue", headers=boss)).json()["calls"]
    assert {c["call_id"] for c in queue} == {"call-a", "call-b", "call-x"}
    assert (await http.get("/api/qa/queue", headers=op1)).status_code == 403

    view = (await http.get("/api/qa/calls/call-a", headers=op1)).json()
    assert view["ticket"]["caller"] == "138****8000" and view["recordings"] == 1
    assert view["ticket"]["transcript"][1] == "caller (按键): 2" and view["call"]["path"][0] == "greeting"
    assert (await http.get("/api/qa/calls/call-b", headers=op1)).status_code == 403
    wav = await http.get("/api/qa/calls/call-a/recordings/0", headers=op1)
    assert (
        wav.status_code == 200 and wav.headers["content-type"] == "audio/wav" and wav.content[:4] == b"RIFF"
    )
    assert (await http.get("/api/qa/calls/call-b/recordings/0", headers=op1)).status_code == 403
    assert (await http.get("/api/qa/calls/call-x/recordings/0", headers=boss)).status_code == 403  # outside
    assert (await http.get("/api/qa/calls/call-a/recordings/1", headers=boss)).status_code == 404

    bad = await http.post(
        "/api/qa/calls/call-a/review", headers=boss, json={"marks": {**FULL, "greeting": 9}}
    )
    assert bad.status_code == 400 and "0 到 5" in bad.json()["error"]
    assert (
        await http.post("/api/qa/calls/call-a/review", headers=op1, json={"marks": FULL})
    ).status_code == 403
    marks = {**FULL, "closing": 5}
    r = await http.post(
        "/api/qa/calls/call-a/review", headers=boss, json={"marks": marks, "comment": "未告知时限"}
    )
    assert r.status_code == 200 and r.json()["score"] == 95.0
    r = await http.post("/api/qa/calls/call-b/review", headers=boss, json={"marks": FULL, "fatal": ["rude"]})
    assert r.json()["score"] == 0.0

    mine = (await http.get("/api/qa/scores", headers=op1)).json()["scores"]
    assert [(s["call_id"], s["score"]) for s in mine] == [("call-a", 95.0)]
    assert (await http.get("/api/qa/scores?seat=1002", headers=op1)).status_code == 403
    theirs = (await http.get("/api/qa/scores", headers=op2)).json()["scores"]
    assert [(s["call_id"], s["fatal"]) for s in theirs] == [("call-b", ["rude"])]
    everyone = (await http.get("/api/qa/scores", headers=boss)).json()["scores"]
    assert {s["call_id"] for s in everyone} == {"call-a", "call-b"}

    appeal = {"reason": "录音 02:10 已告知办理时限"}
    assert (await http.post("/api/qa/calls/call-b/appeal", headers=op1, json=appeal)).status_code == 403
    assert (
        await http.post("/api/qa/calls/call-x/appeal", headers=op1, json=appeal)
    ).status_code == 409  # unscored
    assert (await http.post("/api/qa/calls/call-a/appeal", headers=boss, json=appeal)).status_code == 403
    assert (
        await http.post("/api/qa/calls/call-a/appeal", headers=op1, json={"reason": ""})
    ).status_code == 400
    assert (await http.post("/api/qa/calls/call-a/appeal", headers=op1, json=appeal)).status_code == 201
    again = await http.post("/api/qa/calls/call-a/appeal", headers=op1, json=appeal)
    assert again.status_code == 409 and "只能申诉一次" in again.json()["error"]
    late = await http.post("/api/qa/calls/call-a/review", headers=boss, json={"marks": FULL})
    assert late.status_code == 409

    pending = (await http.get("/api/qa/appeals", headers=boss)).json()["appeals"]
    assert [(a["call_id"], a["reason"]) for a in pending] == [("call-a", appeal["reason"])]
    assert (await http.get("/api/qa/appeals", headers=op1)).status_code == 403
    decision = {"decision": "revised", "note": "核实录音，已告知", "marks": FULL}
    assert (
        await http.post("/api/qa/calls/call-a/appeal/decision", headers=op1, json=decision)
    ).status_code == 403
    r = await http.post("/api/qa/calls/call-a/appeal/decision", headers=boss, json=decision)
    assert (
        r.status_code == 200
        and r.json()["score"]["score"] == 100.0
        and r.json()["appeal"]["decision"] == "revised"
    )
    r = await http.post(
        "/api/qa/calls/call-a/appeal/decision", headers=boss, json={**decision, "decision": "upheld"}
    )
    assert r.status_code == 409
    history = (await http.get("/api/qa/calls/call-a", headers=op1)).json()
    assert [v["score"] for v in history["reviews"]] == [95.0, 100.0] and history["appeal"][
        "decision"
    ] == "revised"
    mine = (await http.get("/api/qa/scores", headers=op1)).json()["scores"]
    assert mine[0]["score"] == 100.0 and mine[0]["appeal"]["decision"] == "revised"

    seats = (await http.get("/api/qa/figures", headers=boss)).json()["rows"]
    by_seat = {row["key"]: row for row in seats}
    assert (by_seat["1001"]["reviews"], by_seat["1001"]["average"], by_seat["1001"]["appeals"]) == (
        1,
        100.0,
        1,
    )
    assert (by_seat["1002"]["fatal"], by_seat["1002"]["below_pass"], by_seat["1002"]["team"]) == (
        1,
        1,
        "二班",
    )
    teams = (await http.get("/api/qa/figures?by=team", headers=boss)).json()["rows"]
    assert [(t["key"], t["reviews"], t["average"]) for t in teams] == [("一班", 1, 100.0), ("二班", 1, 0.0)]
    csv = await http.get("/api/qa/figures?by=team&format=csv", headers=boss)
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.lstrip("\ufeff").splitlines()[0].startswith("编号,名称,质检数,平均分,差错数")
    assert "一班,一班,1,100.0,0,0,1,1" in csv.text
    assert (await http.get("/api/qa/figures", headers=op1)).status_code == 403
    assert (await http.get("/api/qa/figures?from=2026-13-01", headers=boss)).status_code == 400

    await add_unit(rig, "cy", "朝阳区城管委", "wang", "unitpw-1")
    unit = await unit_login(rig, "wang", "unitpw-1")
    assert (await http.get("/api/qa/scores", headers=unit)).status_code == 403
    assert (await http.get("/api/qa/calls/call-a/recordings/0", headers=unit)).status_code == 403


async def test_manual_queueing_and_a_missing_checklist(rig: Rig) -> None:
    await answered_call(rig, "call-m", "1001")
    boss = await rig.supervisor()
    r = await rig.http.post("/api/qa/queue", headers=boss, json={"call_id": "call-m"})
    assert r.status_code == 201 and r.json()["reasons"] == ["manual"]
    assert (await rig.http.post("/api/qa/queue", headers=boss, json={"call_id": "call-m"})).status_code == 409
    assert (await rig.http.post("/api/qa/queue", headers=boss, json={"call_id": "nope"})).status_code == 404
    rig.server.quality._desk.checklist = None
    r = await rig.http.post("/api/qa/calls/call-m/review", headers=boss, json={"marks": FULL})
    assert r.status_code == 503 and "未配置质检评分表" in r.json()["error"]
