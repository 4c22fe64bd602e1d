"""The live socket: pops before the phone rings, one console per seat, supervisors' board."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import websockets
from web_rig import Rig

from ivr.records import SeatState


async def ws_url(rig: Rig, headers: dict[str, str]) -> str:
    """A socket address with a fresh one-use ticket for the session in `headers`."""
    r = await rig.http.post("/api/live/ticket", headers=headers)
    assert r.status_code == 200, r.text
    return rig.server.url.replace("http", "ws") + f"api/live?ticket={r.json()['ticket']}"


async def next_of(ws: Any, kind: str, timeout: float = 5.0) -> dict[str, Any]:
    for _ in range(50):
        msg: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if msg["type"] == kind:
            return msg
    raise AssertionError(f"no {kind} message")


async def test_pop_arrives_while_the_seat_rings(rig: Rig) -> None:
    h = await rig.login("1001")
    await rig.http.post("/api/seats/1001/state", json={"action": "login"}, headers=h)
    rig.line.hold["1001"] = gate = asyncio.Event()  # the phone keeps ringing until released
    async with websockets.connect(await ws_url(rig, h)) as ws:
        assert (await next_of(ws, "seat"))["seat"]["state"] == "ready"
        assert (await next_of(ws, "offer"))["offer"] is None
        rig.call("c9", caller="13900000009")
        pop = await next_of(ws, "offer")
        assert rig.acd.seats["1001"].state is SeatState.RINGING
        assert pop["offer"]["call"]["caller"] == "13900000009"
        assert pop["offer"]["ticket"]["operator"] == "1001"
        gate.set()
        while (await next_of(ws, "seat"))["seat"]["state"] != "talking":
            pass


async def test_second_tab_for_the_same_seat(rig: Rig) -> None:
    h = await rig.login("1001")
    async with websockets.connect(await ws_url(rig, h)) as first:
        await next_of(first, "offer")
        # the same token in another tab: told why, and closed
        async with websockets.connect(await ws_url(rig, h)) as second:
            err = await next_of(second, "error")
            assert err["status"] == 409 and "另一个窗口" in err["error"]
        # a new login for the seat while its console is open: refused unless taking over
        r = await rig.http.post("/api/login", json={"seat_id": "1001", "password": "pw1001"})
        assert r.status_code == 409 and "接管" in r.json()["error"]
        assert (await rig.http.get("/api/me", headers=h)).status_code == 200
        r = await rig.http.post(
            "/api/login", json={"seat_id": "1001", "password": "pw1001", "takeover": True}
        )
        assert r.status_code == 200
        assert (await next_of(first, "revoked"))["error"]
        assert (await rig.http.get("/api/me", headers=h)).status_code == 401


async def test_bad_token_and_supervisor_board(rig: Rig) -> None:
    r = await rig.http.post("/api/live/ticket", headers={"authorization": "Bearer nope"})
    assert r.status_code == 401
    async with websockets.connect(rig.server.url.replace("http", "ws") + "api/live?ticket=nope") as ws:
        assert (await next_of(ws, "error"))["status"] == 401
    sup = await rig.supervisor()
    h = await rig.login("1002")
    async with websockets.connect(await ws_url(rig, sup)) as ws:
        assert (await next_of(ws, "board"))["board"]["seats_by_state"]["logged_out"] == 3
        await rig.http.post("/api/seats/1002/state", json={"action": "login"}, headers=h)
        for _ in range(10):
            board = (await next_of(ws, "board"))["board"]
            if board["seats_by_state"].get("ready") == 1:
                break
        else:
            raise AssertionError("board never showed the ready seat")


async def test_a_ticket_opens_one_socket_once_and_soon(rig: Rig) -> None:
    h = await rig.login("1001")
    url = await ws_url(rig, h)
    async with websockets.connect(url) as ws:
        assert (await next_of(ws, "seat"))["seat"]
    async with websockets.connect(url) as again:  # the same ticket a second time
        err = await next_of(again, "error")
        assert err["status"] == 401 and "票据" in err["error"]
    late = await ws_url(rig, h)
    rig.server.sessions._now = lambda: time.time() + 31  # past [signin] ticket_seconds (30)
    try:
        async with websockets.connect(late) as ws:
            assert (await next_of(ws, "error"))["status"] == 401
    finally:
        rig.server.sessions._now = time.time


async def test_a_token_in_the_url_is_refused(rig: Rig) -> None:
    h = await rig.login("1001")
    token = h["authorization"].split()[1]
    r = await rig.http.get(f"/api/me?token={token}")
    assert r.status_code == 400 and "Authorization" in r.json()["error"]
    r = await rig.http.get(f"/api/me?token={token}", headers=h)  # even beside the header
    assert r.status_code == 400
    async with websockets.connect(rig.server.url.replace("http", "ws") + f"api/live?token={token}") as ws:
        assert (await next_of(ws, "error"))["status"] == 400
