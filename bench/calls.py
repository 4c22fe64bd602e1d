"""Call load benchmark: sipp callers against `ivr serve` on 127.0.0.1.

Prints a table: calls attempted/answered/failed, peak concurrent calls, set-up rate, INVITE->200 OK
latency (p50/p99), the server's CPU and RSS. Every run is bounded: --calls at --rate, then stop.

    .venv/bin/python bench/calls.py --calls 2000 --rate 100 --limit 1000
    .venv/bin/python bench/calls.py --sweep 30,50,70,100,130 --limit 1000
    .venv/bin/python bench/calls.py --calls 3000 --rate 300 --limit 1000 --after 20 --settle 75

The default caller (`--caller trunk`, bench/caller_rtp.xml) sends uac_pcap's G.711a audio from a
bound UDP socket per call, as a trunk does. `--caller pcap` is sipp's own uac_pcap (audio plus an
RFC 2833 key), which sends from a raw socket per call to an RTP port nobody binds: on one host the
kernel then offers every RTP packet and every ICMP error to every raw socket, a cost that grows
with the square of the calls (README, Performance).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from figures import percentile, print_table  # noqa: E402 - bench/ is the script's folder

from ivr.ports import free_port  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def proc_sample(pid: int) -> tuple[float, int]:
    """(cpu seconds, rss bytes) of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICKS
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
    return cpu, rss


KNEE_P99_MS = 50.0  # --sweep: the knee is the highest rate with 0 failures and p99 under this


@dataclass(frozen=True)
class Load:
    calls: int
    rate: float
    limit: int
    caller: str  # "trunk" (bench/caller_rtp.xml) or "pcap" (sipp's uac_pcap)
    after: int = 0  # calls at 10/s once the load is over
    settle: float = 0.0  # seconds the node then stays idle before its memory is read


def a_law_payload(pcap: Path) -> bytes:
    """The PCMA payload of an RTP capture (uac_pcap's g711a.pcap) for sipp's rtp_stream."""
    data = pcap.read_bytes()
    out = bytearray()
    off = 24  # pcap global header
    while off + 16 <= len(data):
        (incl,) = struct.unpack_from("<I", data, off + 8)
        pkt = data[off + 16 : off + 16 + incl]
        off += 16 + incl
        rtp = 14 + (pkt[14] & 15) * 4 + 8  # Ethernet, IPv4, UDP
        if len(pkt) > rtp + 12 and pkt[rtp + 1] & 0x7F == 8:
            out += pkt[rtp + 12 + 4 * (pkt[rtp] & 15) :]
    return bytes(out)


def sipp_caller(load: Load, work: Path) -> list[str]:
    if load.caller == "pcap":
        return ["-sn", "uac_pcap"]
    if not (work / "caller.al").exists():
        (work / "caller.al").write_bytes(a_law_payload(Path("/usr/share/sip-tester/g711a.pcap")))
    return ["-sf", str(ROOT / "bench" / "caller_rtp.xml"), "-mi", "127.0.0.1"]


def run(load: Load) -> dict[str, float | int]:
    """One bounded run against a fresh `ivr serve`; the figures of the table."""
    work = Path(tempfile.mkdtemp(prefix="bench-calls-"))
    (work / "pcap").symlink_to("/usr/share/sip-tester")
    port = free_port()
    cfg = work / "config.toml"
    cfg.write_text(
        f"""
log_level = "WARNING"
[sip]
port = {port}
transports = ["udp"]
rtp_port = 40000
rtp_port_range = 8000
max_calls = 1000
[flows]
dir = "{ROOT / "flows"}"
audio = "{ROOT / "audio"}"
[speech]
tts_cache = "{ROOT / "audio" / "cache"}"
[store]
path = "{work / "hotline.db"}"
recordings = "{work / "recordings"}"
[web]
port = 0
[queues.general]
[queues.urgent]
""",
        encoding="utf-8",
    )
    server_log = open(work / "serve.log", "w")
    status = ["--status-file", str(work / "status.json")]  # the node's own figures, every second
    server = subprocess.Popen(
        [sys.executable, "-m", "ivr.cli", "serve", "--config", str(cfg), "--duration", "900", *status],
        stdout=subprocess.PIPE,
        stderr=server_log,
        text=True,
        cwd=ROOT,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    if "answering on" not in line:
        raise SystemExit(f"server did not start; see {work / 'serve.log'}")
    # warm the prompt cache with one call so synthesis is not measured
    subprocess.run(
        [
            "sipp",
            *sipp_caller(load, work),
            f"127.0.0.1:{port}",
            "-s",
            "12345",
            "-m",
            "1",
            "-nostdin",
            "-timeout",
            "60s",
            "-p",
            str(free_port()),
        ],
        cwd=work,
        capture_output=True,
        check=False,
    )

    samples: list[tuple[float, float, int]] = []
    stop = threading.Event()

    def sampler() -> None:
        while not stop.is_set():
            try:
                cpu, rss = proc_sample(server.pid)
            except (OSError, StopIteration):
                return
            samples.append((time.monotonic(), cpu, rss))
            stop.wait(0.5)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    base_rss = proc_sample(server.pid)[1]  # after start-up and one call
    t0 = time.monotonic()
    sipp = subprocess.run(
        [
            "sipp",
            *sipp_caller(load, work),
            f"127.0.0.1:{port}",
            "-s",
            "12345",
            "-m",
            str(load.calls),
            "-r",
            str(load.rate),
            "-l",
            str(load.limit),
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
        ],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - t0
    after_failed = -1
    if load.after:  # normal calls right after the load: does the node answer them?
        time.sleep(2)
        for f in work.glob("*_[0-9]*_.csv"):
            f.rename(f.with_suffix(".load"))
        after_cmd = ["sipp", *sipp_caller(load, work), f"127.0.0.1:{port}", "-s", "12345"]
        after_cmd += ["-m", str(load.after), "-r", "10", "-nostdin", "-timeout", "120s"]
        after_cmd += ["-trace_stat", "-fd", "1", "-p", str(free_port())]
        late = subprocess.run(
            after_cmd,
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
        after_csv = next(work.glob("*_[0-9]*_.csv"), None)
        after_rows = list(csv.DictReader(open(after_csv), delimiter=";")) if after_csv else []
        after_failed = int(after_rows[-1].get("FailedCall(C)", 0) or 0) if after_rows else load.after
        if late.returncode not in (0, 1):
            after_failed = max(after_failed, 1)
        for f in work.glob("*_[0-9]*_.csv"):
            f.unlink()
        for f in work.glob("*.load"):
            f.rename(f.with_suffix(".csv"))
    settled_rss = 0
    if load.settle:  # pjsip's transactions of the last calls live up to 32 s (Timer J) after them
        time.sleep(load.settle)
        settled_rss = proc_sample(server.pid)[1]
    time.sleep(1.5)  # the node rewrites its figures every second
    try:
        node = json.loads((work / "status.json").read_text())
    except (OSError, ValueError):
        node = {}
    stop.set()
    th.join(2)
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(60)
    except subprocess.TimeoutExpired:
        server.kill()
    server.stdout.close()
    server_log.close()

    stat_file = next(work.glob("*_[0-9]*_.csv"), None)
    rows = list(csv.DictReader(open(stat_file), delimiter=";")) if stat_file else []
    last = rows[-1] if rows else {}
    attempted = int(last.get("OutgoingCall(C)", 0) or 0)
    ok = int(last.get("SuccessfulCall(C)", 0) or 0)
    failed = int(last.get("FailedCall(C)", 0) or 0)
    peak = max((int(r.get("CurrentCall", 0) or 0) for r in rows), default=0)
    rtts: list[float] = []
    for f in work.glob("*_rtt.csv"):
        for r in csv.reader(open(f), delimiter=";"):
            try:
                rtts.append(float(r[1]))
            except (ValueError, IndexError):
                continue
    setup_window = load.calls / load.rate
    cpu_pct = 0.0
    if len(samples) > 1:
        busy = [s for s in samples if s[0] - t0 <= setup_window + 10]
        if len(busy) > 1:
            cpu_pct = 100 * (busy[-1][1] - busy[0][1]) / (busy[-1][0] - busy[0][0])
    peak_rss = max((s[2] for s in samples), default=0)
    figures: dict[str, float | int] = {
        "calls_attempted": attempted,
        "calls_answered_ok": ok,
        "calls_failed": failed,
        "peak_concurrent_calls": peak,
        "calls_per_second": round(attempted / setup_window, 1) if setup_window else 0,
        "invite_200_p50_ms": round(percentile(rtts, 50), 1),
        "invite_200_p99_ms": round(percentile(rtts, 99), 1),
        "server_cpu_percent_of_one_core": round(cpu_pct, 1),
        "server_peak_rss_mb": round(peak_rss / 2**20, 1),
        "answer_first_prompt_p50_ms": node.get("first_prompt_p50_ms", -1),
        "answer_first_prompt_p99_ms": node.get("first_prompt_p99_ms", -1),
        "rejected_503": node.get("rejected_503", -1),
        "wall_seconds": round(elapsed, 1),
        "server_rss_before_mb": round(base_rss / 2**20, 1),
        "server_rss_end_mb": round((samples[-1][2] if samples else 0) / 2**20, 1),
        **({"after_calls_failed": after_failed} if load.after else {}),
        **({f"server_rss_{load.settle:g}_s_later_mb": round(settled_rss / 2**20, 1)} if load.settle else {}),
    }
    if failed or sipp.returncode not in (0, 1):
        print(f"sipp exit {sipp.returncode}: {sipp.stderr[-500:]}", file=sys.stderr)
        print(
            f"sipp errors: {next(work.glob('*_errors.log'), 'none')}; server log: {work / 'serve.log'}",
            file=sys.stderr,
        )
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=400, help="calls to place (bounded)")
    ap.add_argument("--rate", type=float, default=40, help="new calls per second")
    ap.add_argument("--limit", type=int, default=450, help="most calls sipp keeps open at once")
    ap.add_argument("--caller", choices=("trunk", "pcap"), default="trunk", help="sipp scenario (see above)")
    ap.add_argument("--sweep", default="", help="comma-separated rates: 10 s of calls at each, then the knee")
    ap.add_argument("--after", type=int, default=0, help="then this many calls at 10/s (after a burst)")
    ap.add_argument("--settle", type=float, default=0.0, help="then idle seconds before reading memory")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args()

    if not args.sweep:
        load = Load(args.calls, args.rate, args.limit, args.caller, args.after, min(120.0, args.settle))
        figures = run(load)
        print(
            f"\ncall load: sipp {load.caller} caller x{load.calls} at {load.rate}/s"
            " against ivr serve on 127.0.0.1\n"
        )
        print_table(figures)
        if args.json:
            print(json.dumps(figures))
        return 0 if figures["calls_failed"] == 0 else 1

    rows: list[dict[str, float | int]] = []
    for rate in [float(r) for r in args.sweep.split(",") if r.strip()][:10]:
        figures = run(Load(round(rate * 10), rate, args.limit, args.caller))
        rows.append({"rate": rate, **figures})
        print(json.dumps(rows[-1]), flush=True)
    print(
        f"\ncall load sweep: sipp {args.caller} caller, 10 s of calls at each rate, sipp limit {args.limit}\n"
    )
    print(
        "| rate | answered | failed | peak | INVITE -> 200 p50 / p99 "
        "| server CPU (one core = 100 %) | peak RSS |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['rate']:g}/s | {r['calls_answered_ok']}/{r['calls_attempted']} | {r['calls_failed']} "
            f"| {r['peak_concurrent_calls']} | {r['invite_200_p50_ms']:g} ms / {r['invite_200_p99_ms']:g} ms "
            f"| {r['server_cpu_percent_of_one_core']:g} % | {r['server_peak_rss_mb']:g} MB |"
        )
    good = [r for r in rows if r["calls_failed"] == 0 and r["invite_200_p99_ms"] < KNEE_P99_MS]
    knee = max((float(r["rate"]) for r in good), default=0.0)
    print(
        f"\nknee: {knee:g} calls/s (highest rate with 0 failures and INVITE -> 200 p99 < {KNEE_P99_MS:g} ms)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
