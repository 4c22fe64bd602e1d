"""The local mosquitto refuses strangers: no anonymous connection, subscription or publication,
and nobody but the line's account can use the line's client id. Attackers are the Debian
clients (`mosquitto_sub`, `mosquitto_pub`) and aiomqtt, against a real broker."""

from __future__ import annotations

import asyncio
import json
import signal
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest
from test_bus import ADMIN, LINE, AnsweringLine, make_bus, seat_account

from agents.acd import Acd
from agents.console import Console
from agents.eventlog import EventLog
from ivr.broker import LocalBroker
from ivr.config import QueueSettings, SeatSettings
from ivr.records import SeatState
from ivr.store import SqliteStore, Store


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[LocalBroker]:
    b = LocalBroker(data_dir=tmp_path / "mosquitto", lines=(LINE, ADMIN))
    await b.start()
    yield b
    await b.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await SqliteStore.open(tmp_path / "hotline.db")
    yield s
    await s.close()


def mosquitto(tool: str, port: int, *args: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool, "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
async def line(broker: LocalBroker, store: Store) -> AsyncIterator[Acd]:
    """The line: a bus with its account, a console on it, seats 1001 and 1002 logged out."""
    bus = make_bus(broker, store)
    seats = [
        SeatSettings(id=i, name=i, uri=f"sip:{i}@127.0.0.1", queues=("general",)) for i in ("1001", "1002")
    ]
    acd = Acd({"general": QueueSettings(name="general")}, seats, AnsweringLine(), events=EventLog(store))
    Console(acd, store, bus).attach()
    await acd.start()
    await bus.start()
    await bus.wait_connected(5)
    yield acd
    await bus.stop()
    await acd.stop()


async def test_anonymous_clients_can_neither_connect_subscribe_nor_publish(
    broker: LocalBroker, line: Acd
) -> None:
    sub = mosquitto("mosquitto_sub", broker.port, "-t", "#", "-W", "2")
    assert sub.returncode != 0 and "not authorised" in sub.stderr, sub
    command = json.dumps({"action": "login"})
    pub = mosquitto(
        "mosquitto_pub", broker.port, "-q", "1", "-t", "hotline/v1/seat/1002/command", "-m", command
    )
    assert pub.returncode != 0 and "not authorised" in pub.stderr, pub
    with pytest.raises(aiomqtt.MqttError, match=r"[Nn]ot authori[sz]ed"):
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="stranger"):
            pass
    await asyncio.sleep(0.5)
    assert line.seats["1002"].state is SeatState.LOGGED_OUT  # the command never reached the line


async def test_nobody_else_can_take_the_line_client_id(
    broker: LocalBroker, store: Store, line: Acd, tmp_path: Path
) -> None:
    account = await seat_account(broker, tmp_path, "1001")
    attempts = [
        ("-u", account.username, "-P", account.password, "-i", LINE),  # a console's own account
        ("-u", LINE, "-P", "guess", "-i", LINE),  # the line's name without its password
        ("-u", ADMIN, "-P", broker.password(ADMIN), "-i", LINE),  # another line's account
        ("-i", LINE),  # nobody
    ]
    for args in attempts:
        sub = mosquitto("mosquitto_sub", broker.port, *args, "-t", "hotline/v1/seat/1001/pop", "-W", "2")
        assert sub.returncode != 0 and "not authorised" in sub.stderr, (args, sub)
    await asyncio.sleep(1.0)
    log = (broker.data_dir / "mosquitto.log").read_text()
    assert f"Client {LINE} already connected" not in log  # never kicked off
    assert log.count(f"as {LINE} ") == 1, log  # connected once, and stayed


async def test_the_broker_folder_and_secrets_are_private(broker: LocalBroker) -> None:
    assert stat.S_IMODE(broker.data_dir.stat().st_mode) == 0o700
    for path in (broker.dynsec_file, broker.password_file(LINE), broker.data_dir / "mosquitto.conf"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    doc = json.loads(broker.dynsec_file.read_text())
    assert broker.password(LINE) not in broker.dynsec_file.read_text()  # only a salted hash
    assert doc["defaultACLAccess"] == {
        "publishClientSend": False,
        "publishClientReceive": False,
        "subscribe": False,
        "unsubscribe": True,
    }
    assert "allow_anonymous false" in (broker.data_dir / "mosquitto.conf").read_text()


async def test_a_restart_keeps_the_line_password_and_the_consoles_accounts(
    broker: LocalBroker, tmp_path: Path
) -> None:
    before = broker.password(LINE)
    account = await seat_account(broker, tmp_path, "1001")
    await broker.stop()
    await broker.start()
    assert broker.password(LINE) == before
    args = ("-u", account.username, "-P", account.password, "-i", account.client_id)
    sub = mosquitto("mosquitto_sub", broker.port, *args, "-t", "hotline/v1/seat/1001/pop", "-W", "1")
    assert "not authorised" not in sub.stderr and "denied" not in sub.stderr, sub


ORPHAN = (
    "import asyncio, sys; from pathlib import Path; from ivr.broker import LocalBroker\n"
    "async def main():\n"
    "    b = LocalBroker(data_dir=Path(sys.argv[1]))\n"
    "    await b.start()\n"
    "    print(b.port, flush=True)\n"
    "    await asyncio.sleep(60)\n"
    "asyncio.run(main())\n"
)


async def test_a_restart_stops_the_broker_a_killed_run_left_and_keeps_its_port(tmp_path: Path) -> None:
    folder = tmp_path / "hotline-mosquitto"
    owner = subprocess.Popen([sys.executable, "-c", ORPHAN, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None
        port = int(owner.stdout.readline())
        orphan = int((folder / "mosquitto.pid").read_text())
        owner.send_signal(signal.SIGKILL)  # the broker it started runs on, an orphan
        owner.wait(10)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait(10)
        if owner.stdout is not None:
            owner.stdout.close()
    assert Path(f"/proc/{orphan}").exists()
    assert LocalBroker.previous_port(folder) == port
    broker = LocalBroker(LocalBroker.previous_port(folder), data_dir=folder)
    await broker.start()
    try:
        assert broker.port == port
        assert int((folder / "mosquitto.pid").read_text()) != orphan
        state = Path(f"/proc/{orphan}/stat")
        assert not state.exists() or state.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    finally:
        await broker.close()
    assert not (folder / "mosquitto.pid").exists()
