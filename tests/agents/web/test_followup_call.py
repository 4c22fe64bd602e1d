"""An operator's follow-up call from the console over real SIP: the line cannot reach the citizen
(nobody answers within [followup] answer_seconds), so after its attempts the task lands on the
operators' worklist; the operator takes it and places the call from the API; the seat's phone (an
`ivr seat` process) rings first, then the citizen's (another `ivr seat` process); the operator
records the answer and the ticket's history shows it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sip_peers import free_port, seat_phone, serve, write_config
from test_ticket_loop import Api, until

from ivr.passwords import hash_password
from ivr.records import Unit, UnitStaff
from ivr.store import open_store

pytestmark = pytest.mark.sip
CITIZEN = "13900139000"
UNIT = "朝阳区城管委"


async def _ticket(db: Path) -> str:
    """A unit, its staff, and a ticket operator 1001 filed (the call itself is the loop test's)."""
    store = await open_store(db)
    try:
        await store.units.put_unit(Unit("cy-cgw", UNIT, "委办局", "朝阳区"))
        await store.units.put_staff(
            UnitStaff("wang", "cy-cgw", "王科员", hash_password("unit-pw-1", iterations=1000))
        )
        t = await store.tickets.create(
            CITIZEN, status="open", operator="1001", category1="城市管理", description="井盖缺失", unit=UNIT
        )
        return t.id
    finally:
        await store.close()


def _journal(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_operator_places_the_follow_up_call_from_the_console(tmp_path: Path) -> None:
    seat_port, citizen_port = free_port(), free_port()
    extra = f"""
[queues.general]
announce_every = 0
[[seats]]
id = "1001"
name = "王芳"
uri = "sip:1001@127.0.0.1:{seat_port}"
queues = ["general"]
password = "s3cret"
[followup]
trunk = "127.0.0.1:{citizen_port}"
hours = ["00:00-24:00"]
every_seconds = 1
answer_seconds = 3
max_attempts = 1
"""
    cfg = write_config(tmp_path / "config.toml", sip_port=free_port(), extra=extra)
    cfg.write_text(
        cfg.read_text().replace("[web]\nport = 0\n", '[web]\nport = 0\nsupervisor_password = "boss"\n')
    )
    tid = asyncio.run(_ticket(tmp_path / "hotline.db"))
    seat_events, citizen_events = tmp_path / "seat.jsonl", tmp_path / "citizen.jsonl"
    phones = [seat_phone("1001", seat_port, answer_after=1.0, events=seat_events, max_calls=1, duration=150)]
    try:
        with serve(cfg, duration=150) as server:
            op = Api(server.console).login({"seat_id": "1001", "password": "s3cret"})
            got = op("PATCH", f"/api/tickets/{tid}", {"fields": {"status": "dispatched"}})
            assert got["status"] == "dispatched"
            unit = Api(server.console).login({"role": "unit", "login": "wang", "password": "unit-pw-1"})
            unit("POST", f"/api/units/cy-cgw/tickets/{tid}/reply", {"done": "已补装井盖", "result": "solved"})

            # nobody answers the citizen's number: after its one attempt the line gives up
            tasks = until(lambda: op("GET", "/api/followups")["tasks"], 60)
            (task,) = tasks
            assert (task["ticket_id"], task["state"], task["attempts"]) == (tid, "worklist", 1)
            assert (
                task["last_outcome"] in ("no_answer", "failed")
                and task["ticket"]["reply"]["done"] == "已补装井盖"
            )
            assert _journal(seat_events) == []  # the line's own attempt never rang the seat

            # the operator takes it and calls from the console: the seat's phone first, then the citizen
            phones.append(
                seat_phone(
                    CITIZEN, citizen_port, answer_after=0.5, events=citizen_events, talk=6, max_calls=1
                )
            )
            ready = phones[-1].stdout.readline() if phones[-1].stdout is not None else ""
            assert "ready on sip:" in ready, ready  # listening before the operator dials
            base = f"/api/followups/{task['id']}"
            op("POST", "/api/seats/1001/state", {"action": "login"})  # 签入 (not ready): no caller is offered
            assert op("POST", base + "/take")["state"] == "calling"
            assert op("POST", base + "/call") == {"outcome": "answered"}
            seat = [e for e in _journal(seat_events) if e["event"] == "answered"]
            citizen = until(lambda: [e for e in _journal(citizen_events) if e["event"] == "incoming"], 10)
            assert len(seat) == 1 and seat[0]["t"] < citizen[0]["t"]  # answered before the citizen rang

            # the operator records what the citizen said
            answer = {"solved": True, "satisfaction": "基本满意", "words": "井盖已补上"}
            assert op("POST", base + "/answer", answer) == {"ticket_id": tid, "status": "closed"}
            history = [(h["event"], h["actor"], h["note"]) for h in op("GET", f"/api/tickets/{tid}/history")]
            assert ("followup", "seat:1001", "已解决，基本满意：井盖已补上") in history
            assert history[-1][0] == "close"
            assert op("GET", "/api/followups?state=done")["tasks"][0]["answer"]["by"] == "seat:1001"
        assert "Traceback" not in server.log_text()
    finally:
        for phone in phones:
            phone.terminate()
            phone.wait(10)
            if phone.stdout is not None:
                phone.stdout.close()
