"""Numbers masked in logs; files private."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.privacy import NumberMask, make_private, mask


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("call c1 from 13800138000 to 12345", "call c1 from 138****8000 to 12345"),
        ("From: <sip:13911112222@10.0.0.1>", "From: <sip:139****2222@10.0.0.1>"),
        ("+8613800138000", "138****8000"),
        ("landline 010-62345678 and 02161234567", "landline 010-****5678 and 0216****4567"),
        ("ticket 20260601000123 for 13800138000", "ticket 20260601000123 for 138****8000"),
        ("12345 and port 5060 and 1380013800", "12345 and port 5060 and 1380013800"),
    ],
)
def test_mask(text: str, masked: str) -> None:
    assert mask(text) == masked


def test_filter_masks_arguments_and_tracebacks() -> None:
    record = logging.LogRecord(
        "ivr", logging.INFO, __file__, 1, "call %s from %s", ("c1", "13800138000"), None
    )
    assert NumberMask().filter(record)
    assert record.getMessage() == "call c1 from 138****8000"
    try:
        raise ValueError("caller 13800138000 unknown")
    except ValueError:
        exc = sys.exc_info()
    record = logging.LogRecord("ivr", logging.ERROR, __file__, 1, "failed", (), exc)
    NumberMask().filter(record)
    text = logging.Formatter().format(record)
    assert "13800138000" not in text and "138****8000" in text


def test_make_private_tightens_what_an_earlier_run_left(tmp_path: Path) -> None:
    folder, db = tmp_path / "recordings", tmp_path / "hotline.db"
    folder.mkdir(mode=0o755)
    db.write_bytes(b"")
    db.chmod(0o644)
    make_private(db, folder, tmp_path / "missing")
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_serve_logs_no_full_number_and_creates_private_files(tmp_path: Path) -> None:
    """The real `ivr serve` process under umask 022: its log line for a caller is masked."""
    code = (
        "import logging, os; from ivr.cli import setup_logging; from ivr.privacy import private_files;"
        "private_files(); setup_logging('INFO');"
        "logging.getLogger('ivr').info('call %s from %s', 'c1', '13800138000');"
        f"open({str(tmp_path / 'made.db')!r}, 'w').close()"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env, check=True
    )
    assert "138****8000" in done.stderr and "13800138000" not in done.stderr
    assert stat.S_IMODE((tmp_path / "made.db").stat().st_mode) == 0o600
