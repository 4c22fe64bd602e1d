"""Seat benchmark over real SIP: a burst of sipp callers waits in the queue for `ivr seat` phones.

Measures, end to end across processes:
- seat freed -> INVITE to the seat for the next caller: from the moment the seat's phone saw
  its call end to the moment the next INVITE reached it, for every gap where callers were
  waiting (taken from the queue events in the SQLite file);
- screen pop vs answer: when the pop for a call reached an MQTT console, relative to the moment
  the seat answered (negative: the pop was already on screen when the operator picked up).

    .venv/bin/python bench/seats.py --seats 10 --calls 150 --rate 30
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiomqtt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from figures import percentile, print_table  # noqa: E402 - bench/ is the script's folder

from ivr.broker import LocalBroker  # noqa: E402
from ivr.ports import free_port  # noqa: E402

OBSERVER = "bench-consoles"  # a second line account: it watches every seat's pops at once


def config(work: Path, sip_port: int, broker: LocalBroker, seats: list[tuple[str, int]]) -> Path:
    roster = "".join(
        f'[[seats]]\nid = "{sid}"\nname = "坐席{sid}"\n'
        f'uri = "sip:{sid}@127.0.0.1:{port}"\nqueues = ["general"]\n'
        for sid, port in seats
    )
    path = work / "config.toml"
    path.write_text(
        f"""
log_level = "WARNING"
[sip]
port = {sip_port}
transports = ["udp"]
rtp_port = 42000
rtp_port_range = 6000
[flows]
dir = "{ROOT / "bench" / "flows"}"
default = "queue"
audio = "{ROOT / "audio"}"
[flows.numbers]
"12345" = "queue"
[speech]
tts_cache = "{ROOT / "audio" / "cache"}"
[store]
path = "{work / "hotline.db"}"
recordings = "{work / "recordings"}"
[mqtt]
host = "127.0.0.1"
port = {broker.port}
username = "hotline-ivr"
password_file = "{broker.password_file("hotline-ivr")}"
[web]
port = 0
[queues.general]
wrapup_seconds = 0
ring_timeout = 10
announce_every = 600
max_wait = 600
max_length = 1000
{roster}""",
        encoding="utf-8",
    )
    return path


async def consoles(
    broker: LocalBroker, seat_ids: list[str], pops: list[tuple[float, dict[str, Any]]], ready: asyncio.Event
) -> None:
    password = broker.password(OBSERVER)
    async with aiomqtt.Client(
        "127.0.0.1", broker.port, identifier=OBSERVER, username=OBSERVER, password=password
    ) as client:
        await client.subscribe("hotline/v1/seat/+/pop", qos=1)
        for sid in seat_ids:
            for action in ("login", "ready"):
                await client.publish(f"hotline/v1/seat/{sid}/command", json.dumps({"action": action}), qos=1)
        ready.set()
        async for msg in client.messages:
            pops.append((time.time(), json.loads(bytes(msg.payload))))  # type: ignore[arg-type]


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seats", type=int, default=10)
    ap.add_argument("--calls", type=int, default=150)
    ap.add_argument("--rate", type=float, default=30)
    ap.add_argument("--talk", type=float, default=1.5, help="seconds each operator talks")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-seats-"))
    seats = [(f"{2001 + i}", free_port()) for i in range(args.seats)]
    procs: list[subprocess.Popen[bytes]] = []
    pops: list[tuple[float, dict[str, Any]]] = []
    async with LocalBroker(lines=("hotline-ivr", OBSERVER)) as broker:
        cfg = config(work, free_port(), broker, seats)
        for i, (sid, port) in enumerate(seats):
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "ivr.cli",
                        "seat",
                        "--user",
                        sid,
                        "--sip-port",
                        str(port),
                        "--rtp-port",
                        str(50000 + 100 * i),
                        "--talk",
                        str(args.talk),
                        "--answer-after",
                        "0.1",
                        "--events",
                        str(work / f"seat-{sid}.jsonl"),
                        "--duration",
                        "900",
                    ],
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        server = subprocess.Popen(
            [sys.executable, "-m", "ivr.cli", "serve", "--config", str(cfg), "--duration", "900"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=open(work / "serve.log", "w"),
        )
        assert server.stdout is not None
        if "answering on" not in server.stdout.readline().decode():
            print("server did not start; see", work / "serve.log")
            return 1
        sip_port = int(cfg.read_text().split("port = ", 1)[1].split()[0])
        ready = asyncio.Event()
        task = asyncio.ensure_future(consoles(broker, [s for s, _ in seats], pops, ready))  # noqa: RUF006
        await asyncio.wait_for(ready.wait(), 10)
        await asyncio.sleep(1.0)
        t0 = time.time()
        sipp = await asyncio.create_subprocess_exec(
            "sipp",
            "-sf",
            str(ROOT / "bench" / "caller_waits.xml"),
            f"127.0.0.1:{sip_port}",
            "-s",
            "12345",
            "-m",
            str(args.calls),
            "-r",
            str(args.rate),
            "-l",
            str(args.calls),
            "-nostdin",
            "-timeout",
            "600s",
            "-p",
            str(free_port()),
            cwd=str(work),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.wait_for(sipp.wait(), 600)
        elapsed = time.time() - t0
        await asyncio.sleep(1.0)
        task.cancel()
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        server.stdout.close()
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(30)

    db = sqlite3.connect(work / "hotline.db")
    entered: dict[str, float] = {}
    offered: dict[str, float] = {}
    for call_id, kind, at in db.execute("SELECT call_id, kind, at FROM queue_events ORDER BY at"):
        if kind == "ENTERQUEUE":
            entered[call_id] = at
        elif kind == "OFFER":
            offered.setdefault(call_id, at)

    def waiting(t: float) -> int:
        return sum(1 for c, e in entered.items() if e <= t < offered.get(c, float("inf")))

    gaps: list[float] = []
    answered_at: dict[str, float] = {}
    for sid, _ in seats:
        events = [json.loads(line) for line in open(work / f"seat-{sid}.jsonl")]
        for e in events:
            if e["event"] == "answered":
                answered_at[e["caller"]] = e["t"]
        for prev, nxt in itertools.pairwise(events):
            if prev["event"] == "ended" and nxt["event"] == "incoming" and waiting(prev["t"]) > 0:
                gaps.append((nxt["t"] - prev["t"]) * 1000)
    lateness = [
        (t - answered_at[p["call"]["caller"]]) * 1000
        for t, p in pops
        if p.get("type") == "screen_pop" and p["call"]["caller"] in answered_at
    ]
    connected = db.execute("SELECT COUNT(*) FROM queue_events WHERE kind='CONNECT'").fetchone()[0]
    figures = {
        "seats": args.seats,
        "callers": args.calls,
        "calls_connected": connected,
        "wall_seconds": round(elapsed, 1),
        "seat_freed_to_next_invite_p50_ms": round(percentile(gaps, 50), 1),
        "seat_freed_to_next_invite_p99_ms": round(percentile(gaps, 99), 1),
        "gaps_measured": len(gaps),
        "pop_minus_answer_p50_ms": round(percentile(lateness, 50), 1),
        "pop_minus_answer_p99_ms": round(percentile(lateness, 99), 1),
        "pops_before_answer_percent": round(100 * sum(x <= 0 for x in lateness) / max(1, len(lateness)), 1),
    }
    print(
        f"\nseats: {args.seats} `ivr seat` phones, {args.calls} sipp callers at {args.rate}/s, "
        f"talk {args.talk} s, wrap-up 0\n"
    )
    print_table(figures)
    print(f"\n(work folder: {work})")
    return 0 if connected == args.calls else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
