"""Cluster benchmark: sipp callers through Kamailio to N `ivr serve` nodes (`ivr cluster up`).

Each caller sends G.711a audio, holds --hold seconds and hangs up through the proxy (Record-Route:
the scenario tests/ivr/cluster/proxied_call.xml). Prints calls attempted/ok/failed, peak
concurrent calls (sipp's count, and the nodes' own legs), INVITE -> 200 OK p50/p99, calls per
node and CPU per process (Kamailio counts all its children). Bounded: --calls at --rate, then stop.

    .venv/bin/python bench/cluster.py --nodes 2 --rate 20 --calls 100
    .venv/bin/python bench/cluster.py --nodes 2 --rate 5 --calls 60 --hold 4 --seats 10

With `ivr cluster up`'s own PostgreSQL the nodes share one queue; `--seats N` registers N
operators' phones at the proxy and sends every caller straight to that queue (bench/flows), so
each call is also a seat leg dialled through Kamailio and bridged on the caller's node.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from figures import percentile, print_table  # noqa: E402 - bench/ is the script's folder

from ivr.ports import free_port  # noqa: E402

SCENARIO = ROOT / "tests" / "ivr" / "cluster" / "proxied_call.xml"
TICKS = os.sysconf("SC_CLK_TCK")


def group_cpu(pgid: int) -> float:
    """CPU seconds used so far by every live process in process group pgid."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def status(cfg: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "ivr.cli", "cluster", "status", "--config", str(cfg), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    doc: dict[str, Any] = json.loads(out.stdout)
    return doc


def sipp_cmd(trunk: str, calls: int, rate: float, hold_ms: int, limit: int) -> list[str]:
    return [
        "sipp",
        "-sf",
        str(SCENARIO),
        trunk.removeprefix("sip:12345@"),
        "-s",
        "12345",
        "-m",
        str(calls),
        "-r",
        str(rate),
        "-l",
        str(limit),
        "-d",
        str(hold_ms),
        "-nostdin",
        "-timeout",
        "600s",
        "-trace_stat",
        "-fd",
        "1",
        "-trace_rtt",
        "-rtt_freq",
        "1",
        "-trace_err",
        "-p",
        str(free_port()),
        "-max_socket",
        "2000",
    ]


def start_seats(work: Path, cfg: Path, seat_ids: list[str], trunk: str) -> list[subprocess.Popen[bytes]]:
    """One `ivr seat` phone per seat, registered at the proxy, each signed in and ready at node1's
    console (its REST API: one node applies each seat's commands in order)."""
    import httpx

    proxy = trunk.removeprefix("sip:12345@")
    phones = []
    for i, sid in enumerate(seat_ids):
        phone = subprocess.Popen(
            [sys.executable, "-m", "ivr.cli", "seat", "--user", sid, "--sip-port", str(free_port()),
             "--rtp-port", str(20000 + 8 * i), "--talk", "0", "--answer-after", "0.2", "--max-calls", "0",
             "--register", f"sip:{proxy}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT,
        )  # fmt: skip
        assert phone.stdout is not None
        phone.stdout.readline()  # "registered at ..."
        phones.append(phone)
    console = status(cfg)["nodes"][0]["console"].rstrip("/")
    for sid in seat_ids:
        token = httpx.post(f"{console}/api/login", json={"seat_id": sid, "password": f"bench-{sid}"}).json()
        headers = {"authorization": f"Bearer {token['token']}"}
        httpx.post(f"{console}/api/seats/{sid}/state", json={"action": "login"}, headers=headers)
    return phones


def count_connects(work: Path) -> int:
    """Callers bridged to a seat during the run, from the shared queue's events."""
    import asyncio
    import tomllib

    import asyncpg

    url = tomllib.loads((work / "var" / "node1" / "node.toml").read_text()).get("store", {}).get("url", "")
    if not url:  # no shared store: each node's own SQLite file
        return -1

    async def count() -> int:
        conn = await asyncpg.connect(url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM queue_events WHERE kind = 'CONNECT'"))
        finally:
            await conn.close()

    return asyncio.run(count())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=2, help="media nodes behind Kamailio")
    ap.add_argument("--calls", type=int, default=100, help="calls to place (bounded)")
    ap.add_argument("--rate", type=float, default=20, help="new calls per second")
    ap.add_argument("--hold", type=float, default=8, help="seconds each caller stays on the line")
    ap.add_argument("--limit", type=int, default=900, help="most calls sipp keeps open at once")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    ap.add_argument(
        "--seats",
        type=int,
        default=0,
        help="operators' phones registered at the proxy; callers then go straight to the shared "
        "queue and each is bridged to a seat, dialled through Kamailio (0: callers stay in the menu)",
    )
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    # run as root, the centre's PostgreSQL runs as its own account, which must reach var/postgres
    work.chmod(0o711)
    (work / "var").mkdir(mode=0o711)
    (work / "pcap").symlink_to("/usr/share/sip-tester")
    cfg = work / "config.toml"
    seat_ids = [str(3001 + i) for i in range(args.seats)]
    if seat_ids:  # straight to the queue (bench/flows), the operator stays until the caller hangs up
        flows = f'dir = "{ROOT / "bench" / "flows"}"\ndefault = "queue"\n'
        seats = "".join(
            f'[[seats]]\nid = "{sid}"\nname = "坐席{sid}"\nuri = "sip:{sid}@127.0.0.1:5999"\n'
            f'queues = ["general"]\npassword = "bench-{sid}"\n'
            for sid in seat_ids
        )
    else:
        flows, seats = f'dir = "{ROOT / "flows"}"\n', ""
    cfg.write_text(
        f"""
log_level = "WARNING"
[sip]
transports = ["udp"]
max_calls = 1000
[flows]
{flows}audio = "{ROOT / "audio"}"
[speech]
tts_cache = "{ROOT / "audio" / "cache"}"
[web]
port = 0
[queues.general]
announce_every = 0
wrapup_seconds = 0
ring_timeout = 10
[queues.urgent]
{seats}
[cluster]
workdir = "{work / "var"}"
proxy_port = {free_port()}
node_sip_port = 0
node_web_port = 0
node_rtp_port = 30000
node_rtp_span = {min(8000, 30000 // max(1, args.nodes))}
flood_invites = {int(args.rate * 4) + 50}  # the benchmark's one source is not a flood
""",
        encoding="utf-8",
    )
    up_log = open(work / "up.log", "w")
    up = subprocess.Popen(
        [sys.executable, "-m", "ivr.cli", "cluster", "up", "--nodes", str(args.nodes), "--config", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=up_log,
        text=True,
        cwd=ROOT,
    )
    assert up.stdout is not None
    line = up.stdout.readline()
    if not line.startswith("trunk: "):
        print("cluster did not start; see", work / "up.log", file=sys.stderr)
        return 1
    trunk = line.split()[1]
    shared = "shared store:" in (work / "up.log").read_text(encoding="utf-8")
    phones = start_seats(work, cfg, seat_ids, trunk) if seat_ids else []
    # warm each node's prompt cache so synthesis is not measured
    subprocess.run(sipp_cmd(trunk, args.nodes, 10, 500, 10), cwd=work, capture_output=True, check=False)
    for f in work.glob("proxied_call_*"):
        f.unlink()
    before = status(cfg)
    groups = {"kamailio": int(before["proxy"]["pid"]), "supervisor": up.pid}
    groups |= {n["name"]: int(n["pid"]) for n in before["nodes"]}
    cpu0 = {name: group_cpu(pgid) for name, pgid in groups.items()}
    peak_legs = [0]
    stop = threading.Event()

    def sampler() -> None:  # the nodes' own count of calls in progress
        while not stop.is_set():
            legs = 0
            for n in before["nodes"]:
                try:
                    figures = json.loads((work / "var" / n["name"] / "status.json").read_text())
                    legs += int(figures["calls_now"])
                except (OSError, ValueError, KeyError):
                    pass
            peak_legs[0] = max(peak_legs[0], legs)
            stop.wait(0.5)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    bridged0 = count_connects(work) if seat_ids else 0
    t0 = time.monotonic()
    sipp = subprocess.run(
        sipp_cmd(trunk, args.calls, args.rate, int(args.hold * 1000), args.limit),
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - t0
    time.sleep(1.5)  # the nodes' figures are a second old at most
    after = status(cfg)
    cpu = {name: group_cpu(pgid) - cpu0[name] for name, pgid in groups.items()}
    stop.set()
    th.join(2)
    bridged = count_connects(work) - bridged0 if seat_ids else 0
    for phone in phones:
        phone.terminate()
    for phone in phones:
        phone.wait(10)
    up.send_signal(signal.SIGINT)
    try:
        up.wait(60)
    except subprocess.TimeoutExpired:
        up.kill()
    up.stdout.close()
    up_log.close()

    stat_file = next(work.glob("proxied_call_*_.csv"), None)
    rows = list(csv.DictReader(open(stat_file), delimiter=";")) if stat_file else []
    last = rows[-1] if rows else {}
    rtts: list[float] = []
    for f in work.glob("proxied_call_*_rtt.csv"):
        for r in csv.reader(open(f), delimiter=";"):
            try:
                rtts.append(float(r[1]))
            except (ValueError, IndexError):
                continue
    handled = {
        n["name"]: n["calls_handled"] - m["calls_handled"]
        for n, m in zip(after["nodes"], before["nodes"], strict=True)
    }
    failed = int(last.get("FailedCall(C)", 0) or 0)
    figures = {
        "calls_attempted": int(last.get("OutgoingCall(C)", 0) or 0),
        "calls_ok": int(last.get("SuccessfulCall(C)", 0) or 0),
        "calls_failed": failed,
        "peak_concurrent_calls_sipp": max((int(r.get("CurrentCall", 0) or 0) for r in rows), default=0),
        "peak_concurrent_legs_nodes": peak_legs[0],
        "invite_200_p50_ms": round(percentile(rtts, 50), 1),
        "invite_200_p99_ms": round(percentile(rtts, 99), 1),
        "calls_per_node": " / ".join(f"{k} {v}" for k, v in handled.items()),
        "store": "PostgreSQL, one queue for all nodes" if shared else "SQLite per node",
        "calls_bridged_to_seats": f"{bridged} ({len(seat_ids)} seats through the proxy)" if seat_ids else "-",
        "cpu_percent_of_one_core": " / ".join(f"{k} {100 * v / elapsed:.0f}" for k, v in cpu.items()),
        "wall_seconds": round(elapsed, 1),
    }
    print(
        f"\ncluster load: sipp x{args.calls} at {args.rate}/s, {args.hold:g} s each, through Kamailio "
        f"to {args.nodes} node(s) on 127.0.0.1\n"
    )
    print_table(figures)
    if args.json:
        print(json.dumps(figures))
    if failed or sipp.returncode not in (0, 1):
        print(f"\nsipp exit {sipp.returncode}: {sipp.stderr[-500:]}")
        print(f"sipp errors: {next(work.glob('*_errors.log'), 'none')}; cluster: {work}")
    if failed:
        return 1
    shutil.rmtree(work, ignore_errors=True)  # the centre's database and logs: kept only on failure
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
