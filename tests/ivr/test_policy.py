"""The start-up check of the console's exposure, password hashes in config and `ivr passwd`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.config import ConfigError, load
from ivr.passwords import check_password, hash_password, is_hash, password_matches
from ivr.policy import exposure

ROOT = Path(__file__).resolve().parents[2]


def test_loopback_warns_and_beyond_loopback_refuses() -> None:
    shipped = {"seat 1001": "hotline-1001", "supervisor supervisor": "hotline-supervisor"}
    refuse, warn = exposure("127.0.0.1", "", shipped)
    assert refuse == [] and "shipped example passwords" in warn[0] and "seat 1001" in warn[0]
    refuse, warn = exposure("0.0.0.0", "", shipped)
    assert len(refuse) == 3 and "shipped example passwords" in refuse[0] and "without TLS" in refuse[1]
    assert "[web] hosts" in refuse[2]
    hashed = {"seat 1001": hash_password("a-long-secret", iterations=1000)}
    assert exposure("10.1.2.3", "console.pem", hashed) == ([], [])
    assert exposure("0.0.0.0", "console.pem", hashed, ("hotline.city.gov.cn",)) == ([], [])
    refuse, _ = exposure("10.1.2.3", "console.pem", {"seat 1001": "a-long-secret"})
    assert "plain-text passwords (seat 1001)" in refuse[0]


def test_hashes_and_plain_passwords_from_config() -> None:
    h = hash_password("a-long-secret", iterations=1000)
    assert is_hash(h) and not is_hash("a-long-secret") and not is_hash("pbkdf2_sha256$x$00$00")
    assert password_matches("a-long-secret", h) and not password_matches("wrong", h)
    assert password_matches("plain-pw", "plain-pw") and not password_matches("", "")
    assert not password_matches(h, h)  # the hash itself is not the password


def test_a_malformed_hash_in_config_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[[supervisors]]\nlogin = "zhang"\nname = "张班长"\npassword = "pbkdf2_sha256$oops"\n')
    with pytest.raises(ConfigError) as caught:
        load(cfg, files=False)
    assert any("[[supervisors]] #1" in p and "password" in p for p in caught.value.problems)


def run(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ivr.cli", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_serve_refuses_to_listen_beyond_loopback_with_the_shipped_passwords(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    cfg.write_text(text.replace('[web]\nbind = "127.0.0.1"', '[web]\nbind = "0.0.0.0"'), encoding="utf-8")
    for name in ("flows", "audio"):
        (tmp_path / name).symlink_to(ROOT / name)
    done = run("serve", "--config", str(cfg), "--duration", "1")
    assert done.returncode == 2
    assert "refusing to start" in done.stderr and "shipped example passwords" in done.stderr
    assert "without TLS" in done.stderr


def test_passwd_prints_a_hash_config_accepts() -> None:
    done = run("passwd", env={"IVR_PASSWORD": "a-long-secret"})
    assert done.returncode == 0, done.stderr
    printed = done.stdout.strip()
    assert is_hash(printed) and check_password("a-long-secret", printed)
    short = run("passwd", env={"IVR_PASSWORD": "short"})
    assert short.returncode == 2 and "at least 8" in short.stderr
