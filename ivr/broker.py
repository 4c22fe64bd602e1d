"""A local Mosquitto for `ivr serve` (when no broker is configured), `ivr cluster up` and tests.

Nobody connects anonymously. The broker runs Mosquitto's dynamic security plugin (dynsec) with
a config this class writes before each start: one account per line (an `ivr serve` node), bound
to its own client id so no other client can take that id over, with the role `hotline-line`
(the line's topics, and the dynsec control topic through which it issues and revokes operator
consoles' accounts at sign-in and sign-out; see `ivr/accounts.py`). Each line's password is
generated once and kept in `<data_dir>/<client id>.password` (0600); the folder is 0700, since
the persistence file holds queued screen pops.

It keeps its persistence file and the dynsec file in its own folder, so a restart on the same
port restores the sessions, the QoS 1 messages queued for consoles that were offline, and the
consoles' accounts. The folder also holds `mosquitto.pid`: when the process that started the
broker was killed (SIGKILL leaves mosquitto running, with the retained screen pops), the next
start on the same folder stops that orphan and takes its port back (`previous_port`), so the
consoles find the broker where it was.
"""

from __future__ import annotations

import asyncio
import base64
import getpass
import hashlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from ivr.bus import LINE_ROLE, Topics
from ivr.ports import free_port

log = logging.getLogger(__name__)

PLUGIN = "mosquitto_dynamic_security.so"
PLUGIN_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/local/lib")
ITERATIONS = 101  # what mosquitto_ctrl uses for PBKDF2-SHA512


class BrokerError(RuntimeError):
    pass


def hashed_password(password: str) -> dict[str, Any]:
    """A dynsec client's password fields: PBKDF2-SHA512 over a random 12-byte salt."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": ITERATIONS,
    }


def find_plugin() -> Path:
    for folder in PLUGIN_DIRS:
        path = Path(folder, PLUGIN)
        if path.is_file():
            return path
    raise BrokerError(f"{PLUGIN} not found in {', '.join(PLUGIN_DIRS)} (Debian package 'mosquitto' 2.x)")


class LocalBroker:
    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        data_dir: Path | None = None,
        executable: str = "mosquitto",
        lines: Iterable[str] = ("hotline-ivr",),
        topic_prefix: str = "hotline",
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        """`lines`: the client ids of the lines (nodes) that use this broker; each gets an
        account of the same name, usable with that client id only. `tls`: (certificate, key)
        for a TLS listener instead of plain TCP (how a centre's broker on another machine runs)."""
        self.tls = tls
        self.host = host
        self.port = port or free_port(host)
        self._own_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="hotline-mosquitto-"))
        self.lines = tuple(lines)
        self.topics = Topics(topic_prefix)
        exe = shutil.which(executable) or shutil.which(executable, path="/usr/sbin:/usr/local/sbin")
        if exe is None:
            raise BrokerError(f"{executable} not found (Debian package 'mosquitto')")
        self._exe = exe
        self._plugin = find_plugin()
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "mosquitto.pid"

    @property
    def conf_file(self) -> Path:
        return self.data_dir / "mosquitto.conf"

    @staticmethod
    def previous_port(data_dir: Path) -> int:
        """The port the broker last kept in data_dir listened on (0: none yet)."""
        try:
            text = (data_dir / "mosquitto.conf").read_text(encoding="utf-8")
        except OSError:
            return 0
        for line in text.splitlines():
            if line.startswith("listener "):
                return int(line.split()[1])
        return 0

    def _stop_orphan(self, timeout: float = 5.0) -> None:
        """Stop the broker an earlier, killed run left on this folder (the pid file names it and
        its command line names our config, so an unrelated process with a reused pid is left)."""
        try:
            pid = int(self.pid_file.read_text(encoding="utf-8").strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            self.pid_file.unlink(missing_ok=True)
            return
        if not _alive(pid) or str(self.conf_file).encode() not in cmdline:
            self.pid_file.unlink(missing_ok=True)
            return
        os.kill(pid, signal.SIGTERM)  # it saves its persistence file on the way out
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        log.warning(
            "stopped the local mosquitto (pid %d) an earlier run left running on port %d", pid, self.port
        )

    def _take_port(self) -> None:
        """Keep the port consoles know, unless something else has it now."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as mosquitto binds
            try:
                probe.bind((self.host, self.port))
                return
            except OSError:
                pass
        taken, self.port = self.port, free_port(self.host)
        log.warning(
            "broker port %d is taken; the broker moves to %d (consoles get it at sign-in)", taken, self.port
        )

    @property
    def dynsec_file(self) -> Path:
        return self.data_dir / "dynsec.json"

    def password_file(self, line: str) -> Path:
        """Where line `line`'s password is kept (for `[mqtt] password_file`)."""
        return self.data_dir / f"{line}.password"

    def password(self, line: str) -> str:
        return self.password_file(line).read_text(encoding="utf-8").strip()

    def _write_private(self, path: Path, text: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        path.chmod(0o600)  # an existing file keeps its mode through O_CREAT

    def _write_dynsec(self) -> None:
        """The dynsec file with the line role and accounts as this class wants them; consoles'
        accounts and roles written by the plugin since are kept."""
        doc: dict[str, Any] = {"clients": [], "roles": [], "groups": []}
        if self.dynsec_file.is_file():
            doc = json.loads(self.dynsec_file.read_text(encoding="utf-8"))
        doc["defaultACLAccess"] = {  # deny what no role allows
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        }
        role = {
            "rolename": LINE_ROLE,
            "acls": [{"acltype": t, "topic": topic, "allow": True} for t, topic in self.topics.line_acls()],
        }
        doc["roles"] = [r for r in doc.get("roles", []) if r.get("rolename") != LINE_ROLE] + [role]
        clients = {c.get("username"): c for c in doc.get("clients", [])}
        for line in self.lines:
            pw_file = self.password_file(line)
            if line in clients and pw_file.is_file():
                continue  # the line keeps the password it was given
            password = secrets.token_urlsafe(24)
            self._write_private(pw_file, password + "\n")
            clients[line] = {
                "username": line,
                "clientid": line,  # this account connects with this client id, and nobody else can
                "textname": "hotline line",
                "roles": [{"rolename": LINE_ROLE}],
                **hashed_password(password),
            }
        doc["clients"] = list(clients.values())
        self._write_private(self.dynsec_file, json.dumps(doc, indent=1))

    def _write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        self._write_dynsec()
        conf = self.conf_file
        tls = f"certfile {self.tls[0]}\nkeyfile {self.tls[1]}\n" if self.tls else ""
        self._write_private(
            conf,
            # as root mosquitto would switch to user "mosquitto", who cannot read our folder
            f"user {getpass.getuser()}\n"
            "per_listener_settings false\n"
            f"listener {self.port} {self.host}\n"
            f"{tls}"
            "allow_anonymous false\n"
            f"plugin {self._plugin}\n"
            f"plugin_opt_config_file {self.dynsec_file}\n"
            "persistence true\n"
            f"persistence_location {self.data_dir}/\n"
            "autosave_interval 5\n"
            f"log_dest file {self.data_dir}/mosquitto.log\n"
            "max_queued_messages 100000\n",
        )
        return conf

    async def start(self, timeout: float = 5.0) -> None:
        """Start and return once the port accepts connections."""
        if self.running:
            return
        if not self._own_dir:
            await asyncio.to_thread(self._stop_orphan)
            self._take_port()
        conf = self._write_config()
        self._proc = await asyncio.create_subprocess_exec(
            self._exe,
            "-c",
            str(conf),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        self._write_private(self.pid_file, f"{self._proc.pid}\n")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self._proc.returncode is not None:
                raise BrokerError(
                    f"mosquitto exited with {self._proc.returncode}; see {self.data_dir}/mosquitto.log"
                )
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            writer.close()
            await writer.wait_closed()
            return
        await self.stop()
        raise BrokerError(f"mosquitto did not accept on {self.host}:{self.port} within {timeout} s")

    async def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM (mosquitto saves its persistence and dynsec files), SIGKILL if it lingers."""
        proc, self._proc = self._proc, None
        if proc is not None:
            self.pid_file.unlink(missing_ok=True)
        if proc is None or proc.returncode is not None:
            if proc is not None:
                await proc.wait()
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    async def close(self) -> None:
        await self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    async def __aenter__(self) -> LocalBroker:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for a parent that will not reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
