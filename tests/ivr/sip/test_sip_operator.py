"""A citizen reaches an operator over real SIP: flow -> queue -> seat phone rings -> bridge.

Every part is real and separate: `ivr serve`, the caller (`ivr call`), the operator's phone
(`ivr seat`), a mosquitto broker, the SQLite file. The operator's console is this test, over MQTT,
with the broker account it gets by signing in at the web console.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from sip_peers import (
    call,
    desk,
    free_port,
    seat_phone,
    seconds,
    serve,
    sign_in,
    tone,
    voiced_fraction,
    write_config,
)

from ivr.broker import LocalBroker

pytestmark = pytest.mark.sip
PASSWORD = "op-1001-secret"
SEAT = "hotline/v1/seat/1001"


def seat_config(seat_port: int) -> str:
    return f"""
[queues.general]
announce_every = 4
wrapup_seconds = 2
ring_timeout = 10
survey_flow = "survey"
[queues.urgent]
wrapup_seconds = 2
[[seats]]
id = "1001"
name = "王芳"
uri = "sip:1001@127.0.0.1:{seat_port}"
queues = ["general", "urgent"]
skills = {{ general = 5, complaint = 3 }}
password = "{PASSWORD}"
"""


async def console(
    account: dict[str, Any], pops: list[tuple[float, dict[str, Any]]], ready: asyncio.Event
) -> None:
    async with desk(account) as client:
        await client.subscribe(f"{SEAT}/pop", qos=1)
        await client.subscribe(f"{SEAT}/state", qos=1)
        for action in ("login", "ready"):
            await client.publish(f"{SEAT}/command", json.dumps({"action": action}), qos=1)
        async for msg in client.messages:
            body = json.loads(bytes(msg.payload))  # type: ignore[arg-type]
            if body["type"] == "seat_state" and body["state"] == "ready":
                ready.set()
            elif body["type"] == "screen_pop":
                pops.append((time.time(), body))
                fields = {
                    "category1": "城市管理",
                    "category2": "市政设施",
                    "category3": "路灯",
                    "description": "路灯不亮",
                    "unit": "朝阳区城管委",
                    "status": "dispatched",
                }
                await client.publish(
                    f"{SEAT}/ticket/{body['ticket']['id']}/update", json.dumps({"fields": fields}), qos=1
                )


async def test_caller_is_bridged_to_a_seat_with_screen_pop_and_ticket(tmp_path: Path) -> None:
    seat_port = free_port()
    async with LocalBroker() as broker:
        cfg = write_config(
            tmp_path / "config.toml",
            sip_port=free_port(),
            extra=seat_config(seat_port),
            broker=broker,
        )
        seat_dir = tmp_path / "seat"
        seat = seat_phone("1001", seat_port, talk=9, record_dir=seat_dir)
        pops: list[tuple[float, dict[str, Any]]] = []
        ready = asyncio.Event()
        try:
            with serve(cfg) as server:
                account = await asyncio.to_thread(sign_in, server.console, "1001", PASSWORD)
                task = asyncio.ensure_future(console(account, pops, ready))
                await asyncio.wait_for(ready.wait(), 15)
                voice = tone(tmp_path / "citizen.wav")  # the citizen: a 3 s, 440 Hz tone
                script = f"wait 2; dtmf 1; wait 8; play {voice}; wait 10; dtmf 1; wait 3; dtmf 1; wait 8"
                report = await asyncio.to_thread(
                    call, server.uri, script, record=tmp_path / "caller.wav", caller="13911112222"
                )
                log = server.wait_log("ended after", timeout=20)
                await asyncio.sleep(1.5)  # the ticket update from the console lands
                task.cancel()
        finally:
            seat.terminate()
            out, _ = seat.communicate(timeout=20)
        assert report["answered"], report
        assert "answered 1 call" in out, out

        db = sqlite3.connect(tmp_path / "hotline.db")
        kinds = [r[0] for r in db.execute("SELECT kind FROM queue_events ORDER BY at")]
        assert kinds[0] == "ENTERQUEUE" and "CONNECT" in kinds and kinds.count("ENTERQUEUE") == 1
        assert kinds[-1] == "COMPLETEAGENT", kinds  # the operator hung up first
        queued_call = db.execute("SELECT call_id FROM queue_events WHERE kind='OFFER'").fetchone()[0]
        connect_at = db.execute("SELECT at FROM queue_events WHERE kind='CONNECT'").fetchone()[0]

        # the screen pop came before the operator picked up, carrying the ticket the ACD opened
        assert len(pops) == 1, pops
        pop_at, pop = pops[0]
        assert pop_at <= connect_at + 0.05
        ticket_id = pop["ticket"]["id"]
        assert db.execute("SELECT call_id FROM tickets WHERE id=?", (ticket_id,)).fetchone()[0] == queued_call
        assert pop["call"]["caller"] == "13911112222"
        assert pop["ivr"]["flow"] == "main" and "main:main_menu" in pop["ivr"]["path"]
        assert pop["ivr"]["choices"]["category"] == "咨询"

        # the operator's edits and the caller's survey answer are on the ticket, with history
        row = db.execute(
            "SELECT category3, unit, status, survey, context, caller FROM tickets WHERE id=?", (ticket_id,)
        ).fetchone()
        assert row[0] == "路灯" and row[1] == "朝阳区城管委" and row[2] == "dispatched"
        assert json.loads(row[3]).get("satisfaction") == "满意"
        assert row[5] == "13911112222"
        recordings = json.loads(row[4]).get("recordings", [])
        assert recordings and Path(recordings[0]).is_file() and seconds(Path(recordings[0])) > 3
        # citizens' data: the database and the recording are private, the log masks the number
        for private in (tmp_path / "hotline.db", Path(recordings[0])):
            assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
        assert stat.S_IMODE(Path(recordings[0]).parent.stat().st_mode) == 0o700
        assert "13911112222" not in server.log_text() and "139****2222" in server.log_text()
        history = db.execute(
            "SELECT COUNT(*) FROM ticket_history WHERE ticket_id=?", (ticket_id,)
        ).fetchone()[0]
        assert history >= 2

        # the call record links caller, seat and ticket
        cdr = db.execute("SELECT seat_id, ticket_id, outcome FROM calls").fetchone()
        assert cdr == ("1001", ticket_id, "hangup") or cdr[:2] == ("1001", ticket_id), cdr

        # the operator heard the caller: the 3 s tone is in what the seat phone recorded
        heard = next(seat_dir.glob("*.wav"))
        assert voiced_fraction(heard) * seconds(heard) >= 2.5, (voiced_fraction(heard), seconds(heard))
        assert "survey" in log


async def test_broker_down_during_a_call_loses_no_pop_or_ticket_update(tmp_path: Path) -> None:
    """The broker is down when the caller is offered to the seat and while they talk: the call
    goes on; the pop and the operator's ticket edit reach their destinations once it is back."""
    seat_port = free_port()
    async with LocalBroker() as broker:
        cfg = write_config(
            tmp_path / "config.toml",
            sip_port=free_port(),
            extra=seat_config(seat_port),
            broker=broker,
        )
        seat = seat_phone("1001", seat_port, talk=20)
        try:
            with serve(cfg) as server:
                # the console signs in with a persistent session, then the broker goes away
                account = await asyncio.to_thread(sign_in, server.console, "1001", PASSWORD)
                async with desk(account, clean_session=False) as client:
                    await client.subscribe(f"{SEAT}/pop", qos=1)
                    for action in ("login", "ready"):
                        await client.publish(f"{SEAT}/command", json.dumps({"action": action}), qos=1)
                    await asyncio.sleep(1.0)
                await broker.stop()
                caller = asyncio.ensure_future(
                    asyncio.to_thread(call, server.uri, "wait 2; dtmf 1; wait 25", caller="13733334444")
                )
                # SIP does not need the broker
                await asyncio.to_thread(server.wait_log, "connected to seat 1001", 30)
                await broker.start()  # same port, same persistence file
                pop = None
                async with desk(account, clean_session=False) as client:  # same account, restored
                    await client.subscribe(f"{SEAT}/pop", qos=1)
                    async with asyncio.timeout(30):
                        async for msg in client.messages:
                            pop = json.loads(bytes(msg.payload))  # type: ignore[arg-type]
                            break
                    assert pop is not None and pop["call"]["caller"] == "13733334444"
                    fields = {"category1": "住房保障", "description": "楼顶漏水", "status": "open"}
                    await client.publish(
                        f"{SEAT}/ticket/{pop['ticket']['id']}/update", json.dumps({"fields": fields}), qos=1
                    )
                    await asyncio.sleep(1.5)
                report = await caller
        finally:
            seat.terminate()
            seat.communicate(timeout=20)
        assert report["answered"]
        db = sqlite3.connect(tmp_path / "hotline.db")
        row = db.execute(
            "SELECT category1, description, caller FROM tickets WHERE id=?", (pop["ticket"]["id"],)
        ).fetchone()
        assert row == ("住房保障", "楼顶漏水", "13733334444")
        pending = db.execute("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL").fetchone()[0]
        assert pending == 0  # everything queued while the broker was down went out
