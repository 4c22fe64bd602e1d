"""What the cluster tests share: a running `ivr cluster up`, sipp callers through its proxy
(the Record-Route scenario) and an operator who signs in and gets ready over MQTT."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sip"))  # the SIP tests' real peers
from sip_peers import IVR, ROOT, SIPP_PCAPS, free_port, sign_in

SCENARIO = Path(__file__).resolve().parent / "proxied_call.xml"


@dataclass
class Running:
    proc: subprocess.Popen[str]
    config: Path
    trunk: str
    proxy_port: int
    workdir: Path

    def status(self) -> dict[str, Any]:
        out = subprocess.run(
            [*IVR, "cluster", "status", "--config", str(self.config), "--json"],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=ROOT,
            check=False,
        )
        doc: dict[str, Any] = json.loads(out.stdout)
        return doc

    def proxy_log(self) -> str:
        return (self.workdir / "kamailio" / "kamailio.log").read_text(encoding="utf-8", errors="replace")


def sipp(
    target: str, workdir: Path, calls: int, *args: str, rate: int = 3, hold_ms: int = 1000
) -> tuple[int, str]:
    """sipp callers through the proxy; (return code, its error log: messages it did not expect)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if not (workdir / "pcap").exists():
        (workdir / "pcap").symlink_to(SIPP_PCAPS)
    cmd = [
        "sipp",
        "-sf",
        str(SCENARIO),
        target.removeprefix("sip:12345@"),
        "-s",
        "12345",
        "-m",
        str(calls),
        "-r",
        str(rate),
        "-d",
        str(hold_ms),
        "-p",
        str(free_port()),
        "-nostdin",
        "-trace_err",
        "-error_file",
        str(workdir / "errors.log"),
        "-timeout",
        "40s",
        *args,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=workdir, check=False)
    errors = (workdir / "errors.log").read_text(errors="replace") if (workdir / "errors.log").exists() else ""
    return out.returncode, errors


def login(status: dict[str, Any], seat_id: str = "1001", password: str = "pw-1001") -> None:
    """Seat 1001 signs in at node1's console for its broker account, then logs in and gets ready
    over MQTT on every node (they share the broker)."""
    account = sign_in(status["nodes"][0]["console"], seat_id, password)
    assert (account["host"], account["port"]) == (status["broker"]["host"], status["broker"]["port"])
    for action in ("login", "ready"):
        subprocess.run(
            [
                "mosquitto_pub",
                "-h",
                account["host"],
                "-p",
                str(account["port"]),
                "-u",
                account["username"],
                "-P",
                account["password"],
                "-i",
                account["client_id"],
                "-q",
                "1",
                "-t",
                f"{account['topic_base']}/command",
                "-m",
                json.dumps({"action": action}),
            ],
            check=True,
            timeout=10,
        )
    time.sleep(1)
