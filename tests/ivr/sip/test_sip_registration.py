"""Registering to the trunk against a real registrar peer (a sipp UAS that challenges with 401)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sip_peers import IVR, ROOT, SCENARIOS, free_port, serve, write_config

pytestmark = pytest.mark.sip


@contextmanager
def registrar(workdir: Path) -> Iterator[tuple[int, Path]]:
    port = free_port()
    log = workdir / "registrar.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                "sipp",
                "-sf",
                str(SCENARIOS / "registrar.xml"),
                "-i",
                "127.0.0.1",
                "-p",
                str(port),
                "-nostdin",
                "-trace_msg",
                "-message_file",
                str(workdir / "registrar_msgs.log"),
                "-timeout",
                "120s",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
    try:
        time.sleep(0.3)
        yield port, workdir / "registrar_msgs.log"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _registers(messages: Path) -> int:
    text = messages.read_text(errors="replace") if messages.exists() else ""
    return text.count("REGISTER sip:")


def _trunk(port: int, password: str) -> str:
    return (
        f'mode = "register"\nallow = ["127.0.0.1"]\nregistrar = "sip:127.0.0.1:{port}"\n'
        f'username = "hotline"\npassword = "{password}"\nrealm = "*"\nexpires = 8'
    )


def test_registers_with_digest_and_refreshes(tmp_path: Path) -> None:
    with registrar(tmp_path) as (reg_port, messages):
        cfg = write_config(tmp_path / "config.toml", sip_port=free_port(), trunk=_trunk(reg_port, "s3cret"))
        with serve(cfg) as server:
            log = server.wait_log("trunk registration: 200", timeout=15)
            assert "expires in 8 s" in log
            # pjsua refreshes before expiry: a second challenged round succeeds too
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and server.log_text().count("trunk registration: 200") < 2:
                time.sleep(0.2)
            assert server.log_text().count("trunk registration: 200") >= 2
            assert _registers(messages) >= 4  # two rounds of REGISTER, 401, REGISTER+auth, 200


def test_wrong_password_is_logged_and_retried(tmp_path: Path) -> None:
    with registrar(tmp_path) as (reg_port, messages):
        cfg = write_config(tmp_path / "config.toml", sip_port=free_port(), trunk=_trunk(reg_port, "wrong"))
        with serve(cfg) as server:
            log = server.wait_log("trunk registration failed: 403", timeout=15)
            assert "Traceback" not in log
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and server.log_text().count("registration failed") < 2:
                time.sleep(0.2)
            assert server.log_text().count("registration failed") >= 2, "no retry after a failure"
            assert _registers(messages) >= 4  # each round: REGISTER, 401, REGISTER with digest, 403
            assert server.proc.poll() is None  # still running


def test_doctor_shows_registration_state(tmp_path: Path) -> None:
    with registrar(tmp_path) as (reg_port, _):
        good = write_config(tmp_path / "good.toml", sip_port=free_port(), trunk=_trunk(reg_port, "s3cret"))
        out = subprocess.run(
            [*IVR, "doctor", "--config", str(good)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            check=False,
        )
        assert "[ok  ] trunk: registered at" in out.stdout, out.stdout + out.stderr
        assert "[ok  ] pjsua2: pjsua2 loaded, compiled call limit 1000" in out.stdout
        assert "[warn] speech model" in out.stdout and "vosk-model-small-cn-0.22" in out.stdout
        bad = write_config(tmp_path / "bad.toml", sip_port=free_port(), trunk=_trunk(reg_port, "nope"))
        out = subprocess.run(
            [*IVR, "doctor", "--config", str(bad)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            check=False,
        )
        assert out.returncode == 1
        assert "[FAIL] trunk: registrar" in out.stdout and "403" in out.stdout
