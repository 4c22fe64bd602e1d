"""A menu with intent options behind real SIP and real Vosk: it listens free-form and hands what
it heard to the understanding step; whatever the recognizer made of the words, the caller ends
at an option or an operator, never at "选择无效"."""

from __future__ import annotations

from pathlib import Path

import pytest
from sip_peers import call, free_port, serve, write_config
from test_sip_speech import korean_model, utterance

pytestmark = [pytest.mark.sip, pytest.mark.asr]
FLOWS = Path(__file__).resolve().parent / "flows_ko_understood"


def test_free_form_speech_reaches_the_understanding_step(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "config.toml", sip_port=free_port(), flows_dir=FLOWS, speech_model=str(korean_model())
    )
    cfg.write_text(
        cfg.read_text()
        .replace('default = "main"', 'default = "korean"')
        .replace('"12345" = "main"', '"12345" = "korean"')
    )
    said = utterance(tmp_path, "민원")
    with serve(cfg) as server:
        report = call(server.uri, f"wait 3; play {said}; wait 4; play {said}; wait 14", timeout=60)
        assert report["answered"] and report["hung_up_by"] == "them", report
        log = server.wait_log("ended after")
        assert "understanding loaded" in log
        assert "understood " in log  # free-form text went through the step
        ended = [ln for ln in log.splitlines() if "ended after" in ln][-1]
        assert "korean:complaint" in ended or "korean:operator" in ended, ended
        assert "选择无效" not in log and "Traceback" not in log
