"""A local Mosquitto for `ivr serve` (when no broker is configured) and for tests.

It keeps its persistence file in its own folder, so a restart on the same port restores the
sessions and the QoS 1 messages queued for consoles that were offline.
"""

from __future__ import annotations

import asyncio
import getpass
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from ivr.ports import free_port


class BrokerError(RuntimeError):
    pass


class LocalBroker:
    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        data_dir: Path | None = None,
        executable: str = "mosquitto",
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._own_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="hotline-mosquitto-"))
        exe = shutil.which(executable) or shutil.which(executable, path="/usr/sbin:/usr/local/sbin")
        if exe is None:
            raise BrokerError(f"{executable} not found (Debian package 'mosquitto')")
        self._exe = exe
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    def _write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "mosquitto.conf"
        conf.write_text(
            # as root mosquitto would switch to user "mosquitto", who cannot write our folder
            f"user {getpass.getuser()}\n"
            f"listener {self.port} {self.host}\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.data_dir}/\n"
            "autosave_interval 5\n"
            f"log_dest file {self.data_dir}/mosquitto.log\n"
            "max_queued_messages 100000\n",
            encoding="utf-8",
        )
        return conf

    async def start(self, timeout: float = 5.0) -> None:
        """Start and return once the port accepts connections."""
        if self.running:
            return
        conf = self._write_config()
        self._proc = await asyncio.create_subprocess_exec(
            self._exe,
            "-c",
            str(conf),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
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
        """SIGTERM (mosquitto saves its persistence file), SIGKILL if it lingers."""
        proc, self._proc = self._proc, None
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
