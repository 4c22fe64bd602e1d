"""A flow's `transfer` node over real SIP: the line dials the external number, bridges it with
the caller (B2BUA) and stays until one side hangs up; a failed transfer takes `on_fail`."""

from __future__ import annotations

from pathlib import Path

import pytest
from sip_peers import (
    call,
    free_port,
    seat_phone,
    serve,
    tone,
    voiced_fraction,
    write_config,
)

pytestmark = pytest.mark.sip

FLOW = """
description: 转接测试线
nodes:
  hand_over:
    type: transfer
    prompt: 正在为您转接供热服务热线。
    number: "{target}"
    on_fail: sorry
  sorry:
    type: hangup
    prompt: 对不起，转接没有成功，请稍后再拨。
"""


def _line(tmp_path: Path, target: str) -> Path:
    flows = tmp_path / "flows"
    flows.mkdir(exist_ok=True)
    (flows / "main.yaml").write_text(FLOW.format(target=target), encoding="utf-8")
    return write_config(tmp_path / "config.toml", sip_port=free_port(), flows_dir=flows)


def test_transfer_bridges_the_caller_to_the_external_number(tmp_path: Path) -> None:
    port = free_port()
    voice = tmp_path / "heating.wav"
    tone(voice, 3, 660)
    external = seat_phone("96069", port, say=voice, talk=6, answer_after=0.5, duration=90)
    try:
        with serve(_line(tmp_path, f"sip:96069@127.0.0.1:{port}")) as server:
            report = call(server.uri, "wait 20", record=tmp_path / "caller.wav")
            log = server.wait_log("ended after")
    finally:
        external.terminate()
        out, _ = external.communicate(timeout=20)
    assert "answered 1 call" in out, out
    assert report["hung_up_by"] == "them", report  # the external party hung up, then the line
    assert "(transferred): main:hand_over" in log
    # the caller heard the 660 Hz 'voice' of the external party through the bridge
    assert voiced_fraction(tmp_path / "caller.wav") * report["seconds"] > 4


def test_failed_transfer_takes_on_fail(tmp_path: Path) -> None:
    with serve(_line(tmp_path, f"sip:96069@127.0.0.1:{free_port()}")) as server:  # nobody listens there
        report = call(server.uri, "wait 60")
        log = server.wait_log("ended after", timeout=60)
    assert report["hung_up_by"] == "them"
    assert "main:hand_over > main:sorry" in log
