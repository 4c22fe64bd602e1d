"""Running Kamailio as a child process: checked config, foreground, its own runtime folder.

`kamailio -c` runs first so a refused config stops `ivr cluster up` with Kamailio's own words;
then `kamailio -DD -E` (no daemon, log to stderr, which goes to <folder>/kamailio.log) with its
pid file, runtime dir (-Y) and working dir inside the cluster's folder, so nothing under /run or
/var/run is needed. Ready means it answers an OPTIONS on its UDP port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import time
from pathlib import Path

from ivr.cluster import kamailio
from ivr.config import ClusterSettings


def options_ping(host: str, port: int, timeout: float = 0.5) -> int:
    """Send one SIP OPTIONS over UDP; the reply's status code, or 0 when none came in time."""
    tag = secrets.token_hex(6)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        s.settimeout(timeout)
        lport = s.getsockname()[1]
        msg = (
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {host}:{lport};branch=z9hG4bK{tag};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:probe@{host}>;tag={tag}\r\n"
            f"To: <sip:{host}:{port}>\r\n"
            f"Call-ID: {tag}@{host}\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        try:
            s.sendto(msg.encode(), (host, port))
            data = s.recv(4096)
        except (TimeoutError, ConnectionRefusedError):
            return 0
    first = data.split(b"\r\n", 1)[0].split()
    return int(first[1]) if len(first) > 1 and first[1].isdigit() else 0


class Proxy:
    """One Kamailio process fronting the nodes."""

    def __init__(self, front: kamailio.Front, settings: ClusterSettings, folder: Path):
        self.front = front
        self.settings = settings
        self.folder = folder
        self.log = folder / "kamailio.log"
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        return self._proc.pid if self._proc is not None else 0

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def start(self, timeout: float = 15.0) -> None:
        """Write and check the config, start Kamailio, return once it answers OPTIONS."""
        exe = kamailio.executable(self.settings.kamailio)
        cfg = kamailio.write(self.front, self.settings, self.folder)
        await asyncio.to_thread(kamailio.check, cfg, exe)
        run = self.folder / "run"
        run.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:  # noqa: ASYNC230 - once, at start
            self._proc = await asyncio.create_subprocess_exec(
                exe,
                "-DD",
                "-E",
                "-f",
                str(cfg),
                "-Y",
                str(run),
                "-P",
                str(run / "kamailio.pid"),
                "-w",
                str(self.folder),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # ^C reaches `ivr cluster up`, which stops us in order
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.returncode is not None:
                raise kamailio.KamailioError(f"kamailio exited at start; see {self.log}:\n{self.tail()}")
            if await asyncio.to_thread(options_ping, self.front.bind, self.front.port) == 200:
                return
            await asyncio.sleep(0.2)
        await self.stop()
        raise kamailio.KamailioError(
            f"kamailio did not answer OPTIONS within {timeout:.0f} s; see {self.log}"
        )

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    async def stop(self, timeout: float = 10.0) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):  # Kamailio's children share its session
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
