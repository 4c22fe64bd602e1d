"""A waiting caller books a callback with the * key, hangs up, and is called back when a seat is
free: the seat's phone rings first, then the line dials the citizen and bridges them."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
from pathlib import Path

import aiomqtt
import pytest
from sip_peers import call, free_port, read_pcm, seat_phone, serve, write_config
from test_sip_operator import seat_config

from ivr.broker import LocalBroker

pytestmark = pytest.mark.sip


def phone(user: str, port: int, workdir: Path, talk: float) -> subprocess.Popen[str]:
    return seat_phone(
        user, port, talk=talk, answer_after=0.5, record_dir=workdir / user, events=workdir / f"{user}.jsonl"
    )


async def command(port: int, action: str, reason: str = "") -> None:
    async with aiomqtt.Client("127.0.0.1", port, identifier=f"test-{action}") as client:
        body = {"action": action, "reason": reason}
        await client.publish("hotline/v1/seat/1001/command", json.dumps(body), qos=1)


async def test_callback_keeps_the_place_and_calls_the_citizen_back(tmp_path: Path) -> None:
    seat_port, citizen_port = free_port(), free_port()
    async with LocalBroker() as broker:
        cfg = write_config(
            tmp_path / "config.toml",
            sip_port=free_port(),
            extra=seat_config(seat_port),
            mqtt_host="127.0.0.1",
            mqtt_port=broker.port,
        )
        seat = phone("1001", seat_port, tmp_path, talk=4)
        citizen = None
        try:
            with serve(cfg) as server:
                # the only operator is signed in but on a break: the caller has to wait
                await command(broker.port, "login")
                await command(broker.port, "not_ready", "break")
                report = await asyncio.to_thread(
                    call,
                    server.uri,
                    "wait 2; dtmf 1; wait 12; dtmf *; wait 14",
                    caller="13922223333",
                    port=citizen_port,
                    record=tmp_path / "waiting.wav",
                )
                assert report["hung_up_by"] == "them", report  # "已为您登记回拨…再见"
                log = server.wait_log("callback requested from the queue")
                # the waiting caller heard their place in the queue and the callback offer
                assert "queue announcement: 您是下一位" in log and "请按星号键" in log
                # the citizen's phone is free again on the same number; the operator comes back
                citizen = phone("13922223333", citizen_port, tmp_path, talk=0)
                await asyncio.sleep(1.0)
                await command(broker.port, "ready")
                server.wait_log("callback: seat 1001 connected to 139****3333", timeout=30)  # masked
                await asyncio.sleep(6)  # the operator talks 4 s and hangs up
        finally:
            seat.terminate()
            seat_out, _ = seat.communicate(timeout=20)
            citizen_out = ""
            if citizen is not None:
                citizen.terminate()
                citizen_out, _ = citizen.communicate(timeout=20)
        # while waiting the caller heard the transfer prompt and then hold music, never silence
        waited = read_pcm(tmp_path / "waiting.wav")[0][8000 * 5 : 8000 * 8]
        loud = sum(
            1 for i in range(0, len(waited) - 800, 800) if max(abs(x) for x in waited[i : i + 800]) > 500
        )
        assert loud >= 0.8 * (len(waited) // 800), loud
        assert "answered 1 call" in seat_out, seat_out
        assert "answered 1 call" in citizen_out, citizen_out
        db = sqlite3.connect(tmp_path / "hotline.db")
        kinds = [r[0] for r in db.execute("SELECT kind FROM queue_events ORDER BY at")]
        assert kinds[:2] == ["ENTERQUEUE", "CALLBACK"], kinds
        assert "CONNECT" in kinds and kinds[-1] in ("COMPLETEAGENT", "COMPLETECALLER"), kinds
        assert kinds.count("ABANDON") == 0
        cdr = db.execute("SELECT outcome, path FROM calls").fetchone()
        assert "main:callback_booked" in cdr[1]
