"""The whole loop of one ticket over real parts: a SIP caller (`ivr call`) reaches an operator
(an `ivr seat` phone) on `ivr serve`; the operator files and dispatches the ticket over the
REST API; the unit returns it once, the dispatch desk sends it back, the unit replies; the line's
follow-up call reaches the citizen (an `ivr seat` phone pressing keys) who says "not solved";
the ticket is reopened (重办), replied again, followed up again ("solved, satisfied") and
closed; the unit's figures show it all."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sip_peers import call, free_port, seat_phone, serve, write_config

from ivr.passwords import hash_password
from ivr.records import Unit, UnitStaff
from ivr.store import open_store

pytestmark = pytest.mark.sip
CITIZEN = "13800138000"
UNIT = "朝阳区城管委"
UNSOLVED = "wait 9; dtmf 2; wait 5; dtmf 3; wait 6"  # 未解决, 不满意
SOLVED = "wait 9; dtmf 1; wait 5; dtmf 1; wait 6"  # 已解决, 满意


class Api:
    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.token = ""

    def __call__(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"content-type": "application/json"}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        with urllib.request.urlopen(req, timeout=10) as res:
            return json.loads(res.read())

    def login(self, body: dict[str, Any]) -> Api:
        self.token = self("POST", "/api/login", body)["token"]
        return self


def until(what: Callable[[], Any], timeout: float, step: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(step)
    raise AssertionError(f"not within {timeout} s")


async def _units(db: Path) -> None:
    store = await open_store(db)
    try:
        await store.units.put_unit(Unit("cy-cgw", UNIT, "委办局", "朝阳区"))
        await store.units.put_staff(
            UnitStaff("wang", "cy-cgw", "王科员", hash_password("unit-pw-1", iterations=1000))
        )
    finally:
        await store.close()


def test_one_ticket_through_the_whole_loop(tmp_path: Path) -> None:
    seat_port, citizen_port = free_port(), free_port()
    extra = f"""
[queues.general]
wrapup_seconds = 5
announce_every = 0
[queues.urgent]
announce_every = 0
[[seats]]
id = "1001"
name = "王芳"
uri = "sip:1001@127.0.0.1:{seat_port}"
queues = ["general", "urgent"]
password = "s3cret"
[followup]
trunk = "127.0.0.1:{citizen_port}"
hours = ["00:00-24:00"]
every_seconds = 1
retry_minutes = 0.05
max_attempts = 20
"""
    cfg = write_config(tmp_path / "config.toml", sip_port=free_port(), extra=extra)
    cfg.write_text(
        cfg.read_text().replace("[web]\nport = 0\n", '[web]\nport = 0\nsupervisor_password = "boss"\n')
    )
    asyncio.run(_units(tmp_path / "hotline.db"))
    operator_phone = seat_phone("1001", seat_port, answer_after=1.0, max_calls=1, duration=200)
    phones = [operator_phone]
    try:
        with serve(cfg, duration=200) as server:
            url = server.console
            op = Api(url).login({"seat_id": "1001", "password": "s3cret"})
            op("POST", "/api/seats/1001/state", {"action": "login"})

            # a citizen calls, presses 0 for an operator, talks, hangs up
            report: dict[str, Any] = {}
            caller = threading.Thread(
                target=lambda: report.update(
                    call(server.uri, "wait 4; dtmf 0; wait 15", caller=CITIZEN, timeout=60)
                )
            )
            caller.start()
            offer = until(lambda: op("GET", "/api/seats/1001/offer")["offer"], 40)
            tid = offer["ticket"]["id"]
            fields = {"category1": "城市管理", "category2": "市政设施", "category3": "路灯"}
            fields |= {"address": "北京市朝阳区建国路88号", "description": "路灯不亮", "unit": UNIT}
            fields["status"] = "dispatched"
            assert op("PATCH", f"/api/tickets/{tid}", {"fields": fields})["status"] == "dispatched"
            caller.join(60)
            assert report.get("answered"), report

            # the unit returns it once; the dispatch desk sends it back; the unit replies
            unit = Api(url).login({"role": "unit", "login": "wang", "password": "unit-pw-1"})
            base = f"/api/units/cy-cgw/tickets/{tid}"
            assert unit("POST", base + "/return", {"reason": "地址不在本辖区"})["status"] == "returned"
            desk = Api(url).login({"role": "supervisor", "password": "boss"})
            assert (
                desk("POST", f"/api/tickets/{tid}/dispatch", {"unit": UNIT, "note": "地址在朝阳区"})["status"]
                == "dispatched"
            )
            unit("POST", base + "/accept")
            phones.append(
                seat_phone(
                    CITIZEN,
                    citizen_port,
                    answer_after=0.5,
                    script=UNSOLVED,
                    max_calls=1,
                    duration=120,
                )
            )
            unit("POST", base + "/reply", {"done": "已更换灯泡", "result": "solved"})

            # the line's follow-up: not solved -> reopened to the unit (重办)
            until(lambda: desk("GET", f"/api/tickets/{tid}")["status"] == "reopened", 60)
            inbox = unit("GET", "/api/units/cy-cgw/inbox")["tickets"]
            assert [t["id"] for t in inbox] == [tid]
            phones[-1].wait(30)  # the first citizen phone has hung up and left the port
            phones.append(
                seat_phone(CITIZEN, citizen_port, answer_after=0.5, script=SOLVED, max_calls=1, duration=120)
            )
            time.sleep(1.5)  # the second citizen phone is listening before the reply makes a call due
            unit("POST", base + "/reply", {"done": "更换灯具并检修线路", "result": "solved"})
            until(lambda: desk("GET", f"/api/tickets/{tid}")["status"] == "closed", 90)

            # the history tells the story; the operator sees it too
            events = [(h["event"], h["note"]) for h in op("GET", f"/api/tickets/{tid}/history") if h["event"]]
            assert [e for e, _ in events] == [
                *("dispatch", "return", "redispatch", "accept", "reply"),
                *("followup", "reopen", "reply", "followup", "close"),
            ]
            assert ("followup", "未解决，不满意") in events and ("followup", "已解决，满意") in events
            mine = op("GET", "/api/tickets?status=closed")["tickets"]
            assert [t["id"] for t in mine] == [tid]

            # the figures that result
            (row,) = [r for r in desk("GET", "/api/reports/units")["rows"] if r["name"] == UNIT]
            assert (row["received"], row["replied"], row["followups"]) == (2, 2, 2)
            assert (row["returned_rate"], row["reopened_rate"]) == (0.5, 0.5)
            assert (row["resolution_rate"], row["satisfaction_rate"], row["on_time_rate"]) == (0.5, 0.5, 1.0)
        assert "Traceback" not in server.log_text()
    finally:
        for phone in phones:
            phone.terminate()
            phone.wait(10)
            if phone.stdout is not None:
                phone.stdout.close()
