"""A team leader on a live call over real SIP: listen in, whisper, barge in, take over.

Every party is its own process: `ivr serve`, the citizen (`ivr call`), the operator's phone and
the team leader's phone (`ivr seat`, each recording what it hears). Each party "speaks" its own
tone (citizen 440 Hz, operator 1000 Hz, leader 2000 Hz), so a recording tells who was heard.
The leader acts through the console's REST API, as the board's buttons do.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sip_peers import ROOT, call, free_port, seat_phone, serve, tone, tone_seconds, write_config

from ivr.broker import LocalBroker

pytestmark = pytest.mark.sip
OPERATOR, LEADER = "op-1001-secret", "lead-1009-secret"


def roster(op_port: int, lead_port: int) -> str:
    return f"""supervisor_password = "duty-boss-1"
[queues.general]
wrapup_seconds = 1
ring_timeout = 10
[queues.urgent]
[[seats]]
id = "1001"
name = "王芳"
uri = "sip:1001@127.0.0.1:{op_port}"
queues = ["general", "urgent"]
password = "{OPERATOR}"
team = "t1"
shift = "白班"
[[seats]]
id = "1009"
name = "李班长"
uri = "sip:1009@127.0.0.1:{lead_port}"
password = "{LEADER}"
team = "t1"
shift = "白班"
"""


def login(console: str, **body: str) -> httpx.Client:
    client = httpx.Client(base_url=console.rstrip("/"), timeout=40)
    answer = client.post("/api/login", json=body)
    assert answer.status_code == 200, answer.text
    client.headers["authorization"] = f"Bearer {answer.json()['token']}"
    return client


def supervise(client: httpx.Client, seat: str, **body: str) -> httpx.Response:
    return client.post(f"/api/seats/{seat}/supervise", json=body)


def connected_twice(log: Callable[[], str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while log().count("connected to seat 1001") < 2:
        assert time.monotonic() < deadline, log()[-3000:]
        time.sleep(0.1)


def ready(client: httpx.Client) -> None:
    for action in ("login", "ready"):
        answer = client.post("/api/seats/1001/state", json={"action": action})
        assert answer.status_code == 200, answer.text


async def test_a_team_leader_listens_whispers_barges_and_takes_over(tmp_path: Path) -> None:
    op_port, lead_port = free_port(), free_port()
    citizen = tone(tmp_path / "citizen.wav", 4, 440)
    op_voice = tone(tmp_path / "operator.wav", 40, 1000)
    lead_voice = tone(tmp_path / "leader.wav", 40, 2000)
    op_dir, lead_dir = tmp_path / "op", tmp_path / "lead"
    async with LocalBroker() as broker:
        cfg = write_config(
            tmp_path / "config.toml", sip_port=free_port(), extra=roster(op_port, lead_port), broker=broker
        )
        named = subprocess.run(
            [
                sys.executable,
                "-m",
                "ivr.cli",
                "teams",
                "--config",
                str(cfg),
                "add",
                "t1",
                "一班",
                "--leader",
                "1009",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            check=False,
        )
        assert named.returncode == 0, named.stderr
        journal = {"op": tmp_path / "op.jsonl", "lead": tmp_path / "lead.jsonl"}
        operator = seat_phone(
            "1001",
            op_port,
            say=op_voice,
            record_dir=op_dir,
            max_calls=2,
            answer_after=0.3,
            events=journal["op"],
        )
        leader = seat_phone(
            "1009",
            lead_port,
            say=lead_voice,
            record_dir=lead_dir,
            max_calls=2,
            answer_after=0.3,
            events=journal["lead"],
        )
        clients: list[httpx.Client] = []
        try:
            with serve(cfg) as server:
                op = login(server.console, seat_id="1001", password=OPERATOR)
                lead = login(server.console, seat_id="1009", password=LEADER)
                boss = login(server.console, role="supervisor", password="duty-boss-1")
                clients += [op, lead, boss]
                ready(op)
                assert supervise(lead, "1001", mode="listen").status_code == 404  # no call yet
                assert supervise(op, "1009", mode="listen").status_code == 403  # not a leader

                # call 1: the team leader listens in, then whispers
                script = f"wait 2; dtmf 1; wait 7; play {citizen}; wait 1; play {citizen}; wait 8"
                first = asyncio.ensure_future(
                    asyncio.to_thread(
                        call, server.uri, script, record=tmp_path / "c1.wav", caller="13911112222"
                    )
                )
                await asyncio.to_thread(server.wait_log, "connected to seat 1001", 30)
                joined = await asyncio.to_thread(supervise, lead, "1001", mode="listen")
                assert joined.status_code == 200 and joined.json()["mode"] == "listen", joined.text
                board = boss.get("/api/board", params={"team": "一班"}).json()
                row = next(s for s in board["seats"] if s["seat_id"] == "1001")
                assert row["supervised"] == "listen" and row["team_name"] == "一班"
                assert [t["name"] for t in board["teams"]] == ["一班"]
                await asyncio.sleep(6)  # the citizen's tone reaches the listener
                assert (await asyncio.to_thread(supervise, lead, "1001", mode="whisper")).status_code == 200
                report1 = await first
                assert report1["answered"], report1
                await asyncio.sleep(4)  # wrap-up ends; the seat is ready again

                # call 2: the supervisor on duty barges in from the leader's phone, then takes over
                script = f"wait 2; dtmf 1; wait 18; play {citizen}; wait 6"
                second = asyncio.ensure_future(
                    asyncio.to_thread(
                        call, server.uri, script, record=tmp_path / "c2.wav", caller="13733334444"
                    )
                )
                await asyncio.to_thread(connected_twice, server.log_text)
                barged = await asyncio.to_thread(supervise, boss, "1001", mode="barge", phone="1009")
                assert barged.status_code == 200, barged.text
                await asyncio.sleep(4)
                taken = await asyncio.to_thread(supervise, boss, "1001", mode="takeover", phone="1009")
                assert taken.status_code == 200, taken.text
                report2 = await second
                assert report2["answered"], report2
                await asyncio.sleep(2)
                # the parties' hang-ups raced the routes (the listener's phone, the operator's at
                # the take-over): nothing raised
                assert "Traceback" not in server.log_text(), server.log_text()[-3000:]
        finally:
            for client in clients:
                client.close()
            for phone in (operator, leader):
                phone.terminate()
                phone.communicate(timeout=20)

    op1, op2 = sorted(op_dir.glob("*.wav"))
    lead1, lead2 = sorted(lead_dir.glob("*.wav"))
    c1, c2 = tmp_path / "c1.wav", tmp_path / "c2.wav"
    # listening: the leader hears the citizen and the operator; whispering: the operator hears
    # the leader, the citizen never does
    assert tone_seconds(lead1, 440, 0.2) >= 3, tone_seconds(lead1, 440, 0.2)
    assert tone_seconds(lead1, 1000, 0.2) >= 3
    assert tone_seconds(op1, 2000, 0.3) >= 2, tone_seconds(op1, 2000, 0.3)
    assert tone_seconds(c1, 1000, 0.3) >= 3  # the citizen did hear the operator
    assert tone_seconds(c1, 2000, 0.2) == 0, tone_seconds(c1, 2000, 0.2)
    # barging: both hear the leader; after the take-over the citizen talks with the leader
    # (the operator's phone was hung up before the citizen's tone)
    assert tone_seconds(op2, 2000, 0.3) >= 2, tone_seconds(op2, 2000, 0.3)
    assert tone_seconds(c2, 2000, 0.3) >= 8, tone_seconds(c2, 2000, 0.3)
    assert tone_seconds(lead2, 440, 0.3) >= 3, tone_seconds(lead2, 440, 0.3)
    assert tone_seconds(op2, 440, 0.2) == 0
    ended = {
        who: [json.loads(line)["t"] for line in path.read_text().splitlines() if '"ended"' in line]
        for who, path in journal.items()
    }
    assert ended["op"][1] < ended["lead"][1] - 8, ended  # the operator left, the call went on

    db = sqlite3.connect(tmp_path / "hotline.db")
    acts = [
        (json.loads(d)["mode"], json.loads(d)["by"], json.loads(d)["leader"])
        for (d,) in db.execute("SELECT data FROM queue_events WHERE kind = 'SUPERVISE' ORDER BY at")
    ]
    assert acts == [
        ("listen", "1009", "1009"),
        ("whisper", "1009", "1009"),
        ("barge", "supervisor", "1009"),
        ("takeover", "supervisor", "1009"),
    ], acts
    (ticket_id,) = db.execute("SELECT id FROM tickets WHERE caller = '13733334444'").fetchone()
    assert db.execute("SELECT operator FROM tickets WHERE id = ?", (ticket_id,)).fetchone()[0] == "1009"
    notes = [
        r[0]
        for r in db.execute(
            "SELECT note FROM ticket_history WHERE ticket_id = ? AND event = 'supervise'", (ticket_id,)
        )
    ]
    assert notes == ["班长 1009 插话（三方通话）", "班长 1009 接管通话，工单转由 1009 处理"], notes
    # the QA recording: the operator's part, then the citizen with the leader
    context = json.loads(db.execute("SELECT context FROM tickets WHERE id = ?", (ticket_id,)).fetchone()[0])
    before, after = (Path(p) for p in context["recordings"])
    assert tone_seconds(before, 1000, 0.2) >= 2 and tone_seconds(before, 440, 0.2) == 0
    assert tone_seconds(after, 440, 0.2) >= 2 and tone_seconds(after, 2000, 0.2) >= 2
    # the operator's seat was freed at the take-over, not when the citizen hung up
    left = db.execute(
        "SELECT at FROM seat_events WHERE seat_id = '1001' AND previous = 'talking' ORDER BY at"
    ).fetchall()
    done = db.execute("SELECT at FROM queue_events WHERE kind LIKE 'COMPLETE%' ORDER BY at").fetchall()
    assert left[-1][0] < done[-1][0] - 8, (left, done)
