"""Recorded prompts over real SIP: a WAV that disappears after the flow was checked is logged and
its text is spoken instead, so the caller still hears the greeting."""

from __future__ import annotations

from pathlib import Path

import pytest
from sip_peers import call, free_port, serve, tone, voiced_fraction, write_config

pytestmark = pytest.mark.sip

FLOW = """
description: recorded greeting line
nodes:
  greeting:
    type: play
    wav: {wav}
    text: 您好，这里是12345市民服务热线。
  bye:
    type: hangup
    prompt: 再见。
"""


def test_missing_wav_falls_back_to_its_text(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    wav = tmp_path / "greeting.wav"
    tone(wav, 2, 440)
    (flows / "main.yaml").write_text(FLOW.format(wav=wav), encoding="utf-8")
    cfg = write_config(tmp_path / "config.toml", sip_port=free_port(), flows_dir=flows)
    with serve(cfg) as server:
        first = call(server.uri, "wait 8", record=tmp_path / "recorded.wav")
        assert first["hung_up_by"] == "them"
        assert voiced_fraction(tmp_path / "recorded.wav") > 0.3
        wav.unlink()  # an admin deletes the recording while the flow is live
        second = call(server.uri, "wait 10", record=tmp_path / "spoken.wav")
        assert second["hung_up_by"] == "them", second
        assert voiced_fraction(tmp_path / "spoken.wav") > 0.3  # the text was said instead
        log = server.wait_log("is missing; saying its text instead")
        assert "Traceback" not in log
        assert log.count("(hangup): main:greeting > main:bye") == 2
