"""Real peers for SIP tests: `ivr serve`, `ivr call` / `ivr seat` and sipp, each its own process."""

from __future__ import annotations

import array
import json
import math
import os
import resource
import signal
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import httpx

from ivr.broker import LocalBroker
from ivr.ports import free_port as free_port  # the tests take it from here

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
IVR = [sys.executable, "-m", "ivr.cli"]
SIPP_PCAPS = Path("/usr/share/sip-tester")


_rtp_next = [21000 + (os.getpid() % 50) * 200]


def rtp_base(span: int = 200) -> int:
    """Distinct RTP ranges per peer in one test run."""
    _rtp_next[0] += span
    if _rtp_next[0] > 60000:
        _rtp_next[0] = 21000
    return _rtp_next[0]


def write_config(
    path: Path,
    *,
    sip_port: int,
    extra: str = "",
    flows_dir: Path | None = None,
    trunk: str = 'mode = "ip"\nallow = ["127.0.0.1"]',
    speech_model: str = "",
    broker: LocalBroker | None = None,
) -> Path:
    """A config for `ivr serve`; with `broker`, the line uses it with its account (its password
    file); without, `ivr serve` starts its own."""
    flows = flows_dir or ROOT / "flows"
    mqtt = ""
    if broker is not None:
        line = broker.lines[0]
        mqtt = (
            f'host = "{broker.host}"\nport = {broker.port}\nclient_id = "{line}"\n'
            f'username = "{line}"\npassword_file = "{broker.password_file(line)}"'
        )
    path.write_text(
        f"""
log_level = "INFO"
timezone = ""  # the test machine's own zone, so the test and the line agree on "today"
[sip]
bind = "127.0.0.1"
port = {sip_port}
rtp_port = {rtp_base(1000)}
rtp_port_range = 1000
max_calls = 1000
[trunk]
{trunk}
[flows]
dir = "{flows}"
audio = "{ROOT / "audio"}"
default = "main"
[flows.numbers]
"12345" = "main"
[speech]
model = "{speech_model}"
tts_cache = "{ROOT / "audio" / "cache"}"
[store]
path = "{path.parent / "hotline.db"}"
recordings = "{path.parent / "recordings"}"
[mqtt]
{mqtt}
[web]
port = 0
{extra}
""",
        encoding="utf-8",
    )
    return path


@dataclass
class Server:
    proc: subprocess.Popen[str]
    port: int
    log: Path
    console: str = ""  # the console's address, as `ivr serve` printed it

    @property
    def uri(self) -> str:
        return f"sip:12345@127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, needle: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_text()
            if needle in text:
                return text
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} not in server log:\n{self.log_text()[-4000:]}")


@contextmanager
def serve(
    config: Path,
    *,
    duration: float = 300,
    args: tuple[str, ...] = (),
    open_files: tuple[int, int] | None = None,
) -> Iterator[Server]:
    """`ivr serve` in its own process; `open_files`: its (soft, hard) RLIMIT_NOFILE."""
    port = int(
        next(line.split("=")[1] for line in config.read_text().splitlines() if line.startswith("port"))
    )
    log = config.parent / f"serve-{port}.log"
    with open(log, "w", encoding="utf-8") as err:
        proc = subprocess.Popen(
            [*IVR, "serve", "--config", str(config), "--duration", str(duration), *args],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            cwd=ROOT,
            preexec_fn=None
            if open_files is None
            else lambda: resource.setrlimit(resource.RLIMIT_NOFILE, open_files),
        )
    server = Server(proc, port, log)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "answering on" in line, f"server did not start: {line!r}\n{server.log_text()[-3000:]}"
        server.console = proc.stdout.readline().removeprefix("console: ").strip()
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()


def sign_in(console: str, seat_id: str, password: str) -> dict[str, Any]:
    """An operator signs in at the console; the broker account it was issued (docs/api.md)."""
    answer = httpx.post(
        f"{console.rstrip('/')}/api/login", json={"seat_id": seat_id, "password": password}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    account: dict[str, Any] = answer.json()["mqtt"]
    assert account is not None, "no broker account issued"
    account["token"] = answer.json()["token"]
    return account


def desk(account: dict[str, Any], *, clean_session: bool = True) -> aiomqtt.Client:
    """An operator's MQTT console connected with its account (the client id is the account's)."""
    return aiomqtt.Client(
        account["host"],
        account["port"],
        identifier=account["client_id"],
        username=account["username"],
        password=account["password"],
        clean_session=clean_session,
    )


def call(
    uri: str,
    script: str,
    *,
    record: Path | None = None,
    timeout: float = 60,
    caller: str = "13800138000",
    port: int = 0,
) -> dict[str, Any]:
    cmd = [
        *IVR,
        "call",
        uri,
        "--script",
        script,
        "--timeout",
        str(timeout),
        "--json",
        "--caller",
        caller,
        "--rtp-port",
        str(rtp_base()),
        "--sip-port",
        str(port),
    ]
    if record is not None:
        cmd += ["--record", str(record)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30, cwd=ROOT, check=False)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"ivr call printed no report: rc={out.returncode}\n{out.stdout}\n{out.stderr[-3000:]}"
    report: dict[str, Any] = json.loads(lines[-1])
    return report


def sipp(
    scenario: str, target: str, workdir: Path, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """One sipp call to 12345 from a free local port, run in workdir (its pcap/ links to Debian's
    sip-tester captures); `args` adds options such as `-i 127.0.0.9`."""
    pcap = workdir / "pcap"
    if not pcap.exists():
        pcap.symlink_to(SIPP_PCAPS)
    scen = ["-sn", scenario] if not scenario.endswith(".xml") else ["-sf", str(SCENARIOS / scenario)]
    cmd = [
        "sipp",
        *scen,
        target,
        "-s",
        "12345",
        "-m",
        "1",
        "-p",
        str(free_port()),
        "-nostdin",
        "-trace_err",
        "-timeout",
        f"{int(timeout)}s",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 20, cwd=workdir, check=False)


def read_pcm(path: Path) -> tuple[array.array[int], int]:
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        rate = w.getframerate()
        data = array.array("h")
        data.frombytes(w.readframes(w.getnframes()))
    return data, rate


def voiced_fraction(path: Path, threshold: float = 300.0) -> float:
    """Share of 100 ms windows whose RMS is above threshold (speech-like energy)."""
    data, rate = read_pcm(path)
    win = rate // 10
    windows = [data[i : i + win] for i in range(0, len(data) - win + 1, win)]
    if not windows:
        return 0.0
    loud = sum(1 for w in windows if math.sqrt(sum(s * s for s in w) / len(w)) > threshold)
    return loud / len(windows)


def seconds(path: Path) -> float:
    data, rate = read_pcm(path)
    return len(data) / rate


def seat_phone(
    user: str,
    port: int,
    *,
    talk: float = 0,
    answer_after: float = 1.0,
    record_dir: Path | None = None,
    say: Path | None = None,
    events: Path | None = None,
    max_calls: int = 1,
    duration: float = 120,
    script: str = "",
) -> subprocess.Popen[str]:
    """An `ivr seat` softphone in its own process (an operator's phone, or any far end that answers)."""
    cmd = [
        *IVR,
        "seat",
        "--user",
        user,
        "--sip-port",
        str(port),
        "--rtp-port",
        str(rtp_base()),
        "--talk",
        str(talk),
        "--answer-after",
        str(answer_after),
        "--max-calls",
        str(max_calls),
        "--duration",
        str(duration),
    ]
    if script:
        cmd += ["--script", script]
    for flag, value in (("--record-dir", record_dir), ("--say", say), ("--events", events)):
        if value is not None:
            cmd += [flag, str(value)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)


def tone(path: Path, seconds: float = 3, freq: int = 440) -> Path:
    """A steady sine 'voice' at the trunk's 8 kHz: easy to find again in a recording."""
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            str(path),
            "synth",
            str(seconds),
            "sine",
            str(freq),
            "vol",
            "0.5",
        ],
        check=True,
    )
    return path


def tone_seconds(path: Path, freq: float, share: float = 0.5, silence: float = 100.0) -> float:
    """Seconds of `path` in which a tone of `freq` Hz carries at least `share` of the 100 ms
    window's energy (Goertzel), windows quieter than RMS `silence` left out: tells one party's
    tone from another's in a recording, whatever else was said."""
    data, rate = read_pcm(path)
    win = rate // 10
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    found = 0
    for i in range(0, len(data) - win + 1, win):
        w = data[i : i + win]
        energy = sum(s * s for s in w)
        if energy < win * silence**2:
            continue
        s1 = s2 = 0.0
        for x in w:
            s1, s2 = x + coeff * s1 - s2, s1
        power = s1 * s1 + s2 * s2 - coeff * s1 * s2  # |X(f)|^2
        if 2 * power / win >= share * energy:
            found += 1
    return found / 10
