"""The shipped understanding step, loaded once per test session (jieba's dictionary takes ~1 s)."""

from __future__ import annotations

import functools
from pathlib import Path

from ivr.understanding import Understander, load

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "flows" / "understanding.yaml"
DEVSET = Path(__file__).resolve().parent / "devset.tsv"


@functools.cache
def shipped() -> Understander:
    step, findings = load(SHIPPED)
    assert step is not None, [str(f) for f in findings]
    return step
