"""SIP flood benchmark: out-of-dialog requests from an address outside the trunk allow-list
against `ivr serve` on 127.0.0.1; what comes back, what it costs the line, what it logs.

Prints per method: requests sent, answers received and their status lines, bytes back per byte
sent (amplification), the server's RSS before and after, and the log lines written. Bounded:
--count requests per method at --rate, then stop.

    .venv/bin/python bench/sip_flood.py --count 5000 --rate 1000
"""

from __future__ import annotations

import argparse
import collections
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from calls import proc_sample  # noqa: E402 - bench/ is the script's folder
from figures import print_table  # noqa: E402

from ivr.ports import free_port  # noqa: E402

FOREIGN = "127.0.0.9"  # any 127.x address is this machine; the line allows 127.0.0.1 only


def request(method: str, port: int, lport: int, n: int) -> bytes:
    event = (
        "Event: presence\r\nAccept: application/pidf+xml\r\nExpires: 600\r\n" if method == "SUBSCRIBE" else ""
    )
    return (
        f"{method} sip:12345@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {FOREIGN}:{lport};branch=z9hG4bKflood{n};rport\r\n"
        f"Max-Forwards: 70\r\nFrom: <sip:scan@{FOREIGN}>;tag=f{n}\r\nTo: <sip:12345@127.0.0.1:{port}>\r\n"
        f"Call-ID: flood-{method}-{n}\r\nCSeq: 1 {method}\r\nContact: <sip:scan@{FOREIGN}:{lport}>\r\n"
        f"{event}Content-Length: 0\r\n\r\n"
    ).encode()


def flood(method: str, port: int, count: int, rate: float) -> dict[str, object]:
    sent = received = 0
    statuses: collections.Counter[str] = collections.Counter()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((FOREIGN, 0))
        s.setblocking(False)
        lport = s.getsockname()[1]
        start = time.monotonic()
        deadline = start + count / rate + 5  # bounded in time as in count
        n = 0
        while time.monotonic() < deadline:
            if n < count and time.monotonic() >= start + n / rate:
                data = request(method, port, lport, n)
                s.sendto(data, ("127.0.0.1", port))
                sent += len(data)
                n += 1
                continue
            try:
                answer = s.recv(65535)
            except BlockingIOError:
                if n >= count and time.monotonic() > start + count / rate + 2:
                    break
                time.sleep(0.0005)
                continue
            received += len(answer)
            statuses[answer.split(b"\r\n", 1)[0].decode(errors="replace")] += 1
    return {
        "requests": n,
        "answers": ", ".join(f"{v} x {k}" for k, v in statuses.most_common(4)) or "none",
        "amplification": round(received / sent, 2) if sent else 0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=5000, help="requests per method")
    ap.add_argument("--rate", type=float, default=1000, help="requests per second")
    ap.add_argument("--methods", default="SUBSCRIBE,OPTIONS,MESSAGE,NOTIFY,INVITE")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-flood-"))
    port = free_port()
    cfg = work / "config.toml"
    cfg.write_text(
        f'log_level = "INFO"\n[sip]\nport = {port}\ntransports = ["udp"]\n[trunk]\nallow = ["127.0.0.1"]\n'
        f'[flows]\ndir = "{ROOT / "flows"}"\naudio = "{ROOT / "audio"}"\n'
        f'[speech]\ntts_cache = "{ROOT / "audio" / "cache"}"\n'
        f'[store]\npath = "{work / "hotline.db"}"\nrecordings = "{work / "recordings"}"\n'
        "[web]\nport = 0\n[queues.general]\n[queues.urgent]\n",
        encoding="utf-8",
    )
    with open(work / "serve.log", "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "ivr.cli", "serve", "--config", str(cfg), "--duration", "600"],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            cwd=ROOT,
        )
    try:
        assert server.stdout is not None
        if "answering on" not in server.stdout.readline():
            raise SystemExit(f"server did not start; see {work / 'serve.log'}")
        for method in args.methods.split(","):
            lines_before = (work / "serve.log").read_text().count("\n")
            rss_before = proc_sample(server.pid)[1]
            figures = flood(method, port, args.count, args.rate)
            time.sleep(1)
            print(f"\n{method} from {FOREIGN}")
            print_table(
                {
                    **figures,
                    "rss_before_MB": round(rss_before / 2**20, 1),
                    "rss_after_MB": round(proc_sample(server.pid)[1] / 2**20, 1),
                    "log_lines": (work / "serve.log").read_text().count("\n") - lines_before,
                }
            )
    finally:
        server.terminate()
        server.wait(30)
        if server.stdout is not None:
            server.stdout.close()


if __name__ == "__main__":
    main()
