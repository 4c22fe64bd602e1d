"""The line over real SIP: `ivr serve` in one process, callers (`ivr call`, sipp) in others."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from sip_peers import IVR, ROOT, call, free_port, seconds, serve, sipp, voiced_fraction, write_config

pytestmark = pytest.mark.sip


@pytest.fixture
def fallback_line(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A line whose flows folder is empty: callers get the built-in welcome menu."""
    empty = tmp_path / "flows"
    empty.mkdir()
    cfg = write_config(tmp_path / "config.toml", sip_port=free_port(), flows_dir=empty)
    with serve(cfg) as server:
        yield server


def test_caller_hears_the_greeting(fallback_line, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rec = tmp_path / "heard.wav"
    report = call(fallback_line.uri, "wait 6", record=rec)
    assert report["answered"] and report["status"] == 200
    assert report["hung_up_by"] == "us"
    assert 5.0 <= seconds(rec) <= 7.5
    # greeting and menu are speech: most 100 ms windows carry energy, not silence
    assert voiced_fraction(rec) > 0.4
    fallback_line.wait_log("ended after")


def test_a_key_changes_what_the_line_does(fallback_line, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # key 1 asks for an operator: with no queue wired the line says all seats are busy and hangs up
    routed = call(fallback_line.uri, "wait 7; dtmf 1; wait 30", record=tmp_path / "routed.wav")
    assert routed["answered"]
    assert routed["hung_up_by"] == "them", routed
    assert routed["seconds"] < 30
    log = fallback_line.wait_log("queue:general")
    assert "menu:dtmf:1" in log
    # any other key is not a choice: the menu repeats and the caller stays on the line
    other = call(fallback_line.uri, "wait 7; dtmf 9; wait 6", record=tmp_path / "other.wav")
    assert other["hung_up_by"] == "us", other
    assert voiced_fraction(tmp_path / "other.wav") > 0.4
    fallback_line.wait_log("menu:dtmf:9")


def test_sip_info_digits_reach_the_menu(fallback_line, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    report = call(fallback_line.uri, "wait 7; dtmf 1 info; wait 30")
    assert report["hung_up_by"] == "them", report
    assert "menu:dtmf:1" in fallback_line.wait_log("queue:general")


def test_sipp_caller_with_rtp_and_rfc2833(fallback_line, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res = sipp("uac_pcap", f"127.0.0.1:{fallback_line.port}", tmp_path)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    fallback_line.wait_log("ended after")


def test_caller_hanging_up_mid_prompt_breaks_nothing(fallback_line, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        short = call(fallback_line.uri, "wait 1")
        assert short["answered"] and short["hung_up_by"] == "us"
    fallback_line.wait_log("ended after")
    after = call(fallback_line.uri, "wait 4", record=tmp_path / "after.wav")
    assert after["answered"] and voiced_fraction(tmp_path / "after.wav") > 0.4
    assert "Traceback" not in fallback_line.log_text()


def test_non_trunk_address_gets_403(fallback_line, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res = sipp("invite_forbidden.xml", f"127.0.0.1:{fallback_line.port}", tmp_path, "-i", "127.0.0.9")
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "rejected with 403" in fallback_line.wait_log("127.0.0.9")


def test_offer_without_a_common_codec_gets_488(fallback_line, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res = sipp("invite_bad_codec.xml", f"127.0.0.1:{fallback_line.port}", tmp_path)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    # the line keeps answering after it
    assert call(fallback_line.uri, "wait 1")["answered"]


def test_second_instance_on_another_port(tmp_path: Path) -> None:
    a, b = free_port(), free_port()
    cfg = write_config(tmp_path / "config.toml", sip_port=a)
    with serve(cfg, args=("--sip-port", str(b))) as server:
        assert f"127.0.0.1:{b}" in server.wait_log("SIP listening")
        assert call(f"sip:12345@127.0.0.1:{b}", "wait 1")["answered"]


@pytest.mark.parametrize(("part", "kind"), [("sip", socket.SOCK_DGRAM), ("web", socket.SOCK_STREAM)])
def test_serve_exits_when_a_part_cannot_start(tmp_path: Path, part: str, kind: socket.SocketKind) -> None:
    """A taken port stops the whole process with the reason: no console over a line without SIP,
    no SIP line without its console."""
    with socket.socket(socket.AF_INET, kind) as taken:
        taken.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            taken.listen()
        port = taken.getsockname()[1]
        cfg = write_config(tmp_path / "config.toml", sip_port=port if part == "sip" else free_port())
        if part == "web":
            cfg.write_text(cfg.read_text().replace("[web]\nport = 0", f"[web]\nport = {port}"))
        res = subprocess.run(
            [*IVR, "serve", "--config", str(cfg), "--duration", "60"],
            capture_output=True,
            text=True,
            timeout=45,
            cwd=ROOT,
        )
    assert res.returncode == 1, res.stderr[-3000:]
    assert "answering on" not in res.stdout
    where = "SIP" if part == "sip" else "console"
    assert f"ivr serve: the line did not start: {where} on 127.0.0.1:{port}: " in res.stderr, res.stderr[
        -3000:
    ]
    assert "Address already in use" in res.stderr
