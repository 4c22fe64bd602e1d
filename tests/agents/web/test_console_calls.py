"""The call controls over HTTP and the live socket: only the seat's own console acts on its
call, refusals come with their status, the socket answers each control with its id and pushes
the call's view. The SIP side is a fake at the `CallSide` seam (tests/ivr/sip drives the real one)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest
import websockets
from test_console_live import next_of, ws_url
from web_rig import Rig

from ivr.control import ControlError
from ivr.records import SeatState


class HoldingSide:
    """Keeps a hold flag per call, refusing what the real line refuses (resume when not held)."""

    def __init__(self) -> None:
        self.held: set[str] = set()

    def state(self, call_id: str) -> dict[str, object]:
        return {"held": call_id in self.held, "consulting": False, "conference": False}

    async def hold(self, call_id: str) -> None:
        if call_id in self.held:
            raise ControlError(409, "通话已在保持中")
        self.held.add(call_id)

    async def resume(self, call_id: str) -> None:
        if call_id not in self.held:
            raise ControlError(409, "通话未在保持中")
        self.held.discard(call_id)

    async def consult(self, call_id: str, uri: str, headers: Mapping[str, str]) -> asyncio.Event | None:
        return None

    async def back(self, call_id: str) -> None: ...

    async def complete(self, call_id: str, seat_id: str, seat_uri: str) -> None: ...

    async def release(self, call_id: str) -> object:
        return None

    async def conference(self, call_id: str, number: str, headers: Mapping[str, str]) -> bool:
        return False

    async def hangup_outside(self, call_id: str) -> None: ...

    async def leave(self, call_id: str) -> None: ...


@pytest.fixture
async def line(tmp_path: Path) -> AsyncIterator[Rig]:
    r = Rig(tmp_path, call_side=HoldingSide())
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


async def talking(rig: Rig, seat: str = "1001") -> dict[str, str]:
    h = await rig.login(seat)
    await rig.http.post(f"/api/seats/{seat}/state", json={"action": "login"}, headers=h)
    rig.call("c1", caller="13900000001")
    await rig.until(lambda: rig.acd.seats[seat].state is SeatState.TALKING)
    return h


async def test_controls_over_http(line: Rig) -> None:
    rig = line
    h = await talking(rig)
    held = await rig.http.post("/api/seats/1001/call", json={"action": "hold"}, headers=h)
    assert held.status_code == 200 and held.json()["held"] is True and held.json()["call_id"] == "c1"
    again = await rig.http.post("/api/seats/1001/call", json={"action": "hold"}, headers=h)
    assert again.status_code == 409 and again.json()["error"] == "通话已在保持中"
    assert (await rig.http.get("/api/seats/1001/call", headers=h)).json()["held"] is True
    bad = await rig.http.post("/api/seats/1001/call", json={"action": "fly"}, headers=h)
    assert bad.status_code == 400 and "未知操作" in bad.json()["error"]
    far = await rig.http.post(
        "/api/seats/1001/call", json={"action": "transfer", "to": "seat:1002", "mode": "blind"}, headers=h
    )
    assert far.status_code == 409 and "不空闲" in far.json()["error"]  # 1002 is not signed in
    targets = (await rig.http.get("/api/seats/1001/transfer-targets", headers=h)).json()
    assert targets["leader"] == "1003" and {s["id"] for s in targets["seats"]} == {"1002", "1003"}
    # another seat may not act on (or see) this call; a supervisor may look, not act
    other = await rig.login("1002")
    assert (
        await rig.http.post("/api/seats/1001/call", json={"action": "resume"}, headers=other)
    ).status_code == 403
    sup = await rig.supervisor()
    assert (await rig.http.get("/api/seats/1001/call", headers=sup)).status_code == 200
    assert (
        await rig.http.post("/api/seats/1001/call", json={"action": "resume"}, headers=sup)
    ).status_code == 403
    assert (await rig.http.post("/api/seats/1001/call", json={"action": "resume"})).status_code == 401
    kinds = [e.kind.value for e in rig.events.queue if e.call_id == "c1"]
    assert kinds.count("HOLD") == 1 and "UNHOLD" not in kinds


async def test_controls_over_the_live_socket(line: Rig) -> None:
    rig = line
    h = await talking(rig)
    async with websockets.connect(await ws_url(rig, h)) as ws:
        assert (await next_of(ws, "call"))["call"]["call_id"] == "c1"
        await ws.send(json.dumps({"type": "control", "id": "k1", "action": "hold"}))
        answer = await next_of(ws, "control")
        assert answer["id"] == "k1" and answer["ok"] is True and answer["call"]["held"] is True
        await ws.send(json.dumps({"type": "control", "id": "k2", "action": "conference", "number": "1"}))
        refused = await next_of(ws, "control")
        assert refused == {
            "type": "control",
            "id": "k2",
            "ok": False,
            "status": 400,
            "error": refused["error"],
        }
        await ws.send("{not json")
        assert (await next_of(ws, "control"))["status"] == 400
        await ws.send("ping")  # still what keeps the socket alive
        await ws.send(json.dumps({"type": "control", "id": "k3", "action": "resume"}))
        assert (await next_of(ws, "control"))["call"]["held"] is False


async def test_without_a_sip_side_the_controls_answer_503(rig: Rig) -> None:
    h = await rig.login("1001")
    r = await rig.http.post("/api/seats/1001/call", json={"action": "hold"}, headers=h)
    assert r.status_code == 503 and r.json()["error"]
