"""The operator's call controls over real SIP: hold, blind transfer to the duty team leader,
consulted transfer (back, then complete) to a skill group's seat, a three-way call with an outside
number that the operator leaves, and an outbound call from the console.

Every party is its own process: `ivr serve` with the shipped flows, the citizen (`ivr call`),
the operators' phones and the outside number (`ivr seat`). Each phone plays its own tone, so a
Goertzel look at a recording tells whose audio reached whom. The console is this test, over the
REST API with each seat's sign-in.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sip_peers import call, free_port, seat_phone, serve, tone, tone_seconds, write_config

from ivr.broker import LocalBroker

pytestmark = pytest.mark.sip
HOLD, SEAT2, OUTSIDE = 1200, 880, 660  # Hz: the hold music here, the second seat's and outside voices


def tone_in(path: Path, freq: float) -> float:
    """Seconds of a clear `freq` tone in a recording; quieter than RMS 300 is not a voice here."""
    return tone_seconds(path, freq, silence=300.0)


def controls_config(ports: dict[str, int], hold: Path) -> str:
    seats = ""
    for sid, name, queues, skills in (
        ("1001", "王芳", '["general", "urgent"]', "{ general = 5 }"),
        ("1002", "李强", '["general"]', "{ general = 5, housing = 4 }"),
        ("1003", "张班长", "[]", "{}"),
    ):
        seats += f"""
[[seats]]
id = "{sid}"
name = "{name}"
uri = "sip:{sid}@127.0.0.1:{ports[sid]}"
queues = {queues}
skills = {skills}
password = "pw-{sid}-secret"
"""
    return f"""
[queues.general]
wrapup_seconds = 3
ring_timeout = 10
survey_flow = "survey"
[queues.urgent]
wrapup_seconds = 3
[controls]
leader_seat = "1003"
hold_music = "{hold}"
answer_seconds = 15
[followup]
trunk = "127.0.0.1:{ports["outside"]}"
{seats}"""


class Console:
    """The seats' consoles over the REST API (docs/api.md)."""

    def __init__(self, base: str) -> None:
        self.http = httpx.AsyncClient(base_url=base.rstrip("/"), timeout=30)
        self.tokens: dict[str, str] = {}

    async def sign_in(self, seat: str, *actions: str) -> None:
        got = await self.http.post("/api/login", json={"seat_id": seat, "password": f"pw-{seat}-secret"})
        assert got.status_code == 200, got.text
        self.tokens[seat] = got.json()["token"]
        for action in actions:
            await self.state(seat, action)

    async def __aenter__(self) -> Console:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    def _auth(self, seat: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.tokens[seat]}"}

    async def state(self, seat: str, action: str) -> dict[str, Any]:
        got = await self.http.post(
            f"/api/seats/{seat}/state", json={"action": action}, headers=self._auth(seat)
        )
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        return body

    async def seat(self, seat: str) -> dict[str, Any]:
        body: dict[str, Any] = (await self.http.get(f"/api/seats/{seat}", headers=self._auth(seat))).json()
        return body

    async def control(self, seat: str, expect: int = 200, **body: str) -> dict[str, Any]:
        got = await self.http.post(f"/api/seats/{seat}/call", json=body, headers=self._auth(seat))
        assert got.status_code == expect, got.text
        answer: dict[str, Any] = got.json()
        return answer

    async def call(self, seat: str) -> dict[str, Any]:
        body: dict[str, Any] = (
            await self.http.get(f"/api/seats/{seat}/call", headers=self._auth(seat))
        ).json()
        return body

    async def offer(self, seat: str) -> dict[str, Any] | None:
        got = await self.http.get(f"/api/seats/{seat}/offer", headers=self._auth(seat))
        offer: dict[str, Any] | None = got.json()["offer"]
        return offer

    async def wait_state(self, seat: str, state: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        view: dict[str, Any] = {}
        while time.monotonic() < deadline:
            view = await self.seat(seat)
            if view["state"] == state:
                return view
            await asyncio.sleep(0.2)
        raise AssertionError(f"seat {seat} not {state} within {timeout} s: {view}")


def phones(tmp_path: Path, ports: dict[str, int], **kw: dict[str, Any]) -> dict[str, subprocess.Popen[str]]:
    return {
        name: seat_phone(name, ports[name], record_dir=tmp_path / name, duration=150, **kw.get(name, {}))
        for name in ports
        if name in kw
    }


def stop(procs: dict[str, subprocess.Popen[str]]) -> dict[str, str]:
    out = {}
    for name, p in procs.items():
        p.terminate()
        out[name] = p.communicate(timeout=20)[0]
    return out


def recordings(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.wav"), key=lambda p: p.stat().st_mtime)


async def test_hold_then_blind_transfer_to_the_duty_leader(tmp_path: Path) -> None:
    """The caller presses 9 (urgent, no speech model), the operator holds (the caller hears the
    hold music) and hands the call to the team leader on duty blind: the leader's phone rings,
    the ticket follows, the first seat wraps up."""
    ports = {"1001": free_port(), "1002": free_port(), "1003": free_port(), "outside": free_port()}
    hold = tone(tmp_path / "hold.wav", 20, HOLD)
    leader_voice = tone(tmp_path / "leader.wav", 4, SEAT2)
    async with LocalBroker() as broker:
        cfg = write_config(
            tmp_path / "config.toml", sip_port=free_port(), extra=controls_config(ports, hold), broker=broker
        )
        procs = phones(tmp_path, ports, **{"1001": {}, "1003": {"script": f"wait 1; play {leader_voice}"}})
        try:
            with serve(cfg) as server:
                async with Console(server.console) as console:
                    await console.sign_in("1001", "login", "ready")
                    await console.sign_in("1003", "login", "ready")
                    caller = asyncio.ensure_future(
                        asyncio.to_thread(
                            call,
                            server.uri,
                            "wait 2; dtmf 9; wait 40",
                            record=tmp_path / "caller.wav",
                            timeout=60,
                        )
                    )
                    talking = await console.wait_state("1001", "talking")
                    await console.control(
                        "1001", action="resume", expect=409
                    )  # not held: refused, nothing changed
                    await asyncio.sleep(1.5)
                    held = await console.control("1001", action="hold")
                    assert held["held"] is True and held["call_id"] == talking["call_id"]
                    await asyncio.sleep(4)
                    assert (await console.control("1001", action="resume"))["held"] is False
                    await asyncio.sleep(1.5)
                    ticket = (await console.offer("1001") or {})["ticket"]["id"]
                    moved = await console.control("1001", action="transfer", to="leader", mode="blind")
                    assert moved["outcome"] == "queued"
                    assert (await console.seat("1001"))["state"] in ("wrap_up", "ready")
                    await console.wait_state("1003", "talking", 20)
                    await asyncio.sleep(0.5)
                    pop = await console.offer("1003")
                    assert (
                        pop is not None
                        and pop["ticket"]["id"] == ticket
                        and pop["ticket"]["operator"] == "1003"
                    )
                    await asyncio.sleep(7)
                    report = await caller
                    server.wait_log("ended after", timeout=20)
        finally:
            out = stop(procs)
        assert report["answered"], report
        assert "answered 1 call" in out["1003"], out
        heard = tmp_path / "caller.wav"
        assert tone_in(heard, HOLD) >= 3.0, tone_in(heard, HOLD)  # the hold music
        assert tone_in(heard, SEAT2) >= 2.5, tone_in(heard, SEAT2)  # the leader's voice
        db = sqlite3.connect(tmp_path / "hotline.db")
        rows = db.execute("SELECT kind, seat_id, queue, data FROM queue_events ORDER BY at").fetchall()
        kinds = [r[0] for r in rows]
        assert rows[0][2] == "urgent"  # by key 9, without a speech model
        for kind in ("HOLD", "UNHOLD", "TRANSFER"):
            assert any(r[0] == kind and r[1] == "1001" for r in rows), rows
        transfer = next(json.loads(r[3]) for r in rows if r[0] == "TRANSFER")
        assert transfer["to"] == "leader" and transfer["how"] == "blind" and transfer["seats"] == "1003"
        assert kinds.count("CONNECT") == 2 and rows[-1][1] == "1003", kinds
        history = db.execute(
            "SELECT actor, event, note FROM ticket_history WHERE ticket_id=? ORDER BY id", (ticket,)
        ).fetchall()
        assert ("seat:1001", "transfer") in [(a, e) for a, e, _ in history], history
        assert db.execute("SELECT operator FROM tickets WHERE id=?", (ticket,)).fetchone()[0] == "1003"
        states = [r[0] for r in db.execute("SELECT state FROM seat_events WHERE seat_id='1001' ORDER BY at")]
        assert "wrap_up" in states[states.index("talking") :], states


async def test_consulted_transfer_goes_back_then_completes(tmp_path: Path) -> None:
    """The operator consults the housing expert while the caller holds, goes back, consults again
    and completes: the caller then talks to the expert; the expert's words during the
    consultation reached the operator, not the caller."""
    ports = {"1001": free_port(), "1002": free_port(), "1003": free_port(), "outside": free_port()}
    hold = tone(tmp_path / "hold.wav", 20, HOLD)
    short, long = tone(tmp_path / "expert1.wav", 2, SEAT2), tone(tmp_path / "expert2.wav", 3, SEAT2)
    async with LocalBroker() as broker:
        cfg = write_config(
            tmp_path / "config.toml", sip_port=free_port(), extra=controls_config(ports, hold), broker=broker
        )
        expert = {"script": f"play {short}; wait 7; play {long}", "max_calls": 2}
        procs = phones(tmp_path, ports, **{"1001": {}, "1002": expert})
        try:
            with serve(cfg) as server:
                async with Console(server.console) as console:
                    await console.sign_in("1001", "login", "ready")
                    await console.sign_in("1002")
                    caller = asyncio.ensure_future(
                        asyncio.to_thread(
                            call,
                            server.uri,
                            "wait 2; dtmf 1; wait 50",
                            record=tmp_path / "caller.wav",
                            timeout=70,
                        )
                    )
                    await console.wait_state("1001", "talking")
                    await console.state("1002", "login")  # ready only now: the caller is 1001's
                    await console.state("1002", "ready")
                    ticket = (await console.offer("1001") or {})["ticket"]["id"]
                    consulting = await console.control(
                        "1001", action="transfer", to="skill:housing", mode="consult"
                    )
                    assert consulting["outcome"] == "consulting" and consulting["consult_to"] == "1002"
                    assert (await console.seat("1002"))["state"] == "talking"  # busy while consulted
                    await asyncio.sleep(3)
                    back = await console.control("1001", action="back")
                    assert back["held"] is False and back["consult_to"] == ""
                    await console.wait_state("1002", "ready", 5)  # a consultation that went back: no wrap-up
                    await asyncio.sleep(1)
                    again = await console.control("1001", action="transfer", to="seat:1002", mode="consult")
                    assert again["outcome"] == "consulting"
                    await asyncio.sleep(3)
                    await console.control("1001", action="complete")
                    await console.wait_state("1001", "wrap_up", 3)
                    pop = await console.offer("1002")
                    assert pop is not None and pop["ticket"]["id"] == ticket
                    await asyncio.sleep(9)
                    report = await caller
                    server.wait_log("ended after", timeout=20)
        finally:
            out = stop(procs)
        assert report["answered"], report
        assert "answered 2 call" in out["1002"], out
        heard = tmp_path / "caller.wav"
        # the caller heard hold music while the operator consulted, and the expert only after
        assert tone_in(heard, HOLD) >= 4.0, tone_in(heard, HOLD)
        assert 2.0 <= tone_in(heard, SEAT2) <= 3.6, tone_in(heard, SEAT2)
        operator = recordings(tmp_path / "1001")[0]
        assert tone_in(operator, SEAT2) >= 3.0, tone_in(operator, SEAT2)  # both consultations
        db = sqlite3.connect(tmp_path / "hotline.db")
        rows = db.execute("SELECT kind, seat_id, data FROM queue_events ORDER BY at").fetchall()
        outcomes = [json.loads(d).get("outcome", "") for k, _, d in rows if k == "CONSULT"]
        assert outcomes == ["", "back", ""], rows
        transfer = next(json.loads(d) for k, _, d in rows if k == "TRANSFER")
        assert transfer["how"] == "consulted" and transfer["seats"] == "1002"
        assert rows[-1][0] in ("COMPLETECALLER", "COMPLETEAGENT") and rows[-1][1] == "1002", rows
        assert db.execute("SELECT operator FROM tickets WHERE id=?", (ticket,)).fetchone()[0] == "1002"
        context = json.loads(db.execute("SELECT context FROM tickets WHERE id=?", (ticket,)).fetchone()[0])
        assert len(context["recordings"]) == 2  # the part with each operator


async def test_three_way_call_the_operator_leaves_then_an_outbound_call(tmp_path: Path) -> None:
    """The operator adds 120 to the call: the caller hears the outside party; the operator leaves
    and the two talk on. Then, after wrap-up, the operator calls a citizen from the console: the
    seat phone rings first, then the number."""
    ports = {"1001": free_port(), "1002": free_port(), "1003": free_port(), "outside": free_port()}
    hold = tone(tmp_path / "hold.wav", 20, HOLD)
    voice = tone(tmp_path / "outside.wav", 3, OUTSIDE)
    async with LocalBroker() as broker:
        cfg = write_config(
            tmp_path / "config.toml", sip_port=free_port(), extra=controls_config(ports, hold), broker=broker
        )
        outside = {"script": f"wait 3; play {voice}", "max_calls": 2, "talk": 9}
        procs = phones(tmp_path, ports, **{"1001": {"max_calls": 2}, "outside": outside})
        try:
            with serve(cfg) as server:
                async with Console(server.console) as console:
                    await console.sign_in("1001", "login", "ready")
                    caller = asyncio.ensure_future(
                        asyncio.to_thread(
                            call,
                            server.uri,
                            "wait 2; dtmf 3; wait 25",
                            record=tmp_path / "caller.wav",
                            timeout=45,
                        )
                    )
                    await console.wait_state("1001", "talking")
                    ticket = (await console.offer("1001") or {})["ticket"]["id"]
                    await console.control("1001", action="conference", number="12o", expect=400)
                    three = await console.control("1001", action="conference", number="120")
                    assert three["outcome"] == "answered" and three["conference"] is True
                    await asyncio.sleep(1)
                    await console.control("1001", action="leave")
                    await console.wait_state("1001", "wrap_up", 3)
                    report = await caller  # the outside party hangs up after 9 s; the survey follows
                    await console.wait_state("1001", "ready", 10)

                    dialled = await console.control(
                        "1001", action="dial", number="13900001111", ticket_id=ticket
                    )
                    assert dialled["outcome"] == "calling"
                    await console.control("1001", action="dial", number="13900001111", expect=409)  # busy now
                    await console.control("1001", action="hold", expect=409)  # no caller of the queue's
                    seen = []
                    for _ in range(100):  # the seat answers, then the citizen; then 9 s of talk
                        view = await console.call("1001")
                        seen.append((view["outbound"] or {}).get("state"))
                        if view["outbound"] is None:
                            break
                        await asyncio.sleep(0.3)
                    assert "calling" in seen and "answered" in seen, seen
                    await console.wait_state("1001", "wrap_up", 15)
                    server.wait_log("outbound call to 139****1111: answered", timeout=5)
        finally:
            out = stop(procs)
        assert report["answered"], report
        assert "answered 2 call" in out["outside"] and "answered 2 call" in out["1001"], out
        heard = tmp_path / "caller.wav"
        # the outside number's 3 s reached the caller (on a loaded machine a phone's playback may
        # lose every other 100 ms window's purity: half the tone is proof enough)
        assert tone_in(heard, OUTSIDE) >= 1.2, tone_in(heard, OUTSIDE)
        operator = recordings(tmp_path / "1001")
        assert tone_in(operator[0], OUTSIDE) == 0.0  # the operator had left before it spoke
        assert tone_in(operator[-1], OUTSIDE) >= 1.2  # the citizen dialled from the console
        db = sqlite3.connect(tmp_path / "hotline.db")
        rows = db.execute("SELECT kind, seat_id, data FROM queue_events WHERE kind='CONFERENCE'").fetchall()
        assert [json.loads(d)["outcome"] for _, _, d in rows] == ["answered", "operator_left"], rows
        assert json.loads(rows[0][2])["number"] == "120" and rows[0][1] == "1001"  # who, and whom they called
        notes = [n for (n,) in db.execute("SELECT note FROM ticket_history WHERE ticket_id=?", (ticket,))]
        assert any("三方通话" in n for n in notes) and any("退出三方通话" in n for n in notes), notes
        assert any(n.startswith("外呼 13900001111") for n in notes), notes
