"""Call load benchmark: sipp callers (G.711 audio + an RFC 2833 key) against `ivr serve` on 127.0.0.1.

Prints a table: calls attempted/answered/failed, peak concurrent calls, set-up rate, INVITE->200 OK
latency (p50/p99), the server's CPU and RSS. Every run is bounded: --calls at --rate, then stop.

    .venv/bin/python bench/calls.py --calls 400 --rate 40
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=400, help="calls to place (bounded)")
    ap.add_argument("--rate", type=float, default=40, help="new calls per second")
    ap.add_argument("--limit", type=int, default=450, help="most calls sipp keeps open at once")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args()

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
    server = subprocess.Popen(
        [sys.executable, "-m", "ivr.cli", "serve", "--config", str(cfg), "--duration", "900"],
        stdout=subprocess.PIPE,
        stderr=server_log,
        text=True,
        cwd=ROOT,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    if "answering on" not in line:
        print("server did not start; see", work / "serve.log", file=sys.stderr)
        return 1
    # warm the prompt cache with one call so synthesis is not measured
    subprocess.run(
        [
            "sipp",
            "-sn",
            "uac_pcap",
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
    t0 = time.monotonic()
    sipp = subprocess.run(
        [
            "sipp",
            "-sn",
            "uac_pcap",
            f"127.0.0.1:{port}",
            "-s",
            "12345",
            "-m",
            str(args.calls),
            "-r",
            str(args.rate),
            "-l",
            str(args.limit),
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
    stop.set()
    th.join(2)
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(60)
    except subprocess.TimeoutExpired:
        server.kill()
    server.stdout.close()
    server_log.close()

    stat_file = next(work.glob("uac_pcap_*_.csv"), None)
    rows = list(csv.DictReader(open(stat_file), delimiter=";")) if stat_file else []
    last = rows[-1] if rows else {}
    attempted = int(last.get("OutgoingCall(C)", 0) or 0)
    ok = int(last.get("SuccessfulCall(C)", 0) or 0)
    failed = int(last.get("FailedCall(C)", 0) or 0)
    peak = max((int(r.get("CurrentCall", 0) or 0) for r in rows), default=0)
    rtts: list[float] = []
    for f in work.glob("uac_pcap_*_rtt.csv"):
        for r in csv.reader(open(f), delimiter=";"):
            try:
                rtts.append(float(r[1]))
            except (ValueError, IndexError):
                continue
    setup_window = args.calls / args.rate
    cpu_pct = 0.0
    if len(samples) > 1:
        busy = [s for s in samples if s[0] - t0 <= setup_window + 10]
        if len(busy) > 1:
            cpu_pct = 100 * (busy[-1][1] - busy[0][1]) / (busy[-1][0] - busy[0][0])
    peak_rss = max((s[2] for s in samples), default=0)
    figures = {
        "calls_attempted": attempted,
        "calls_answered_ok": ok,
        "calls_failed": failed,
        "peak_concurrent_calls": peak,
        "calls_per_second": round(attempted / setup_window, 1) if setup_window else 0,
        "invite_200_p50_ms": round(percentile(rtts, 50), 1),
        "invite_200_p99_ms": round(percentile(rtts, 99), 1),
        "server_cpu_percent_of_one_core": round(cpu_pct, 1),
        "server_peak_rss_mb": round(peak_rss / 2**20, 1),
        "wall_seconds": round(elapsed, 1),
    }
    print(f"\ncall load: sipp uac_pcap x{args.calls} at {args.rate}/s against ivr serve on 127.0.0.1\n")
    print_table(figures)
    if args.json:
        print(json.dumps(figures))
    if failed or sipp.returncode not in (0, 1):
        print(f"\nsipp exit {sipp.returncode}: {sipp.stderr[-500:]}")
        print(f"\nsipp errors: {next(work.glob('*_errors.log'), 'none')}; server log: {work / 'serve.log'}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
