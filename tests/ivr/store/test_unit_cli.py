"""`ivr unit` as an admin runs it: a real subprocess against a SQLite store; the configured
taxonomy's units checked against the store's, as `ivr serve` does at start."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.config import parse
from ivr.passwords import check_password
from ivr.records import Unit
from ivr.store import open_store
from ivr.store.cli import check_taxonomy_units


def _ivr(tmp: Path, *args: str, password: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IVR_UNIT_PASSWORD": password}
    cmd = [sys.executable, "-m", "ivr.cli", "unit", "--config", str(tmp / "c.toml"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60, check=False)


def test_units_and_staff_from_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text('[store]\npath = "db/h.db"\n')
    assert _ivr(tmp_path, "add", "cy-cgw", "朝阳区城管委", "--district", "朝阳区").returncode == 0
    short = _ivr(tmp_path, "staff", "wang", "--unit", "cy-cgw", password="short")
    assert short.returncode == 2 and "8 characters" in short.stderr
    unknown = _ivr(tmp_path, "staff", "li", "--unit", "nope", password="longenough1")
    assert unknown.returncode == 2 and "no unit 'nope'" in unknown.stderr
    assert (
        _ivr(tmp_path, "staff", "wang", "--unit", "cy-cgw", "--name", "王", password="longenough1").returncode
        == 0
    )
    listed = _ivr(tmp_path, "list")
    assert listed.stdout.split("\n")[0].split("\t") == ["cy-cgw", "朝阳区城管委", "委办局", "朝阳区"]
    with sqlite3.connect(tmp_path / "db" / "h.db") as db:
        (stored,) = db.execute("SELECT password_hash FROM unit_staff WHERE login = 'wang'").fetchone()
    assert "longenough1" not in stored and check_password("longenough1", stored)


async def test_taxonomy_units_are_checked_against_the_stores_units(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "centre.csv").write_text(
        "category1,category2,category3,unit\n"
        "城市管理,市政设施,路灯,{区}城管委\n"
        "住房,物业管理,电梯故障,{区}住建委\n",
        encoding="utf-8",
    )
    settings = parse({"understanding": {"taxonomy": "centre.csv"}}, tmp_path / "config.toml")
    store = await open_store(tmp_path / "hotline.db")
    try:
        with caplog.at_level(logging.WARNING):
            await check_taxonomy_units(settings, store)  # no units registered yet: a warning only
        assert "taxonomy units not checked" in caplog.text
        await store.units.put_unit(Unit("cy-cgw", "朝阳区城管委", "委办局", "朝阳区"))
        with pytest.raises(ValueError) as err:
            await check_taxonomy_units(settings, store)
        assert f"{tmp_path / 'centre.csv'}:3: unknown unit '{{区}}住建委'" in str(err.value)
        assert ":2:" not in str(err.value)  # {区}城管委 matches 朝阳区城管委
        await store.units.put_unit(Unit("hd-zjw", "海淀区住建委", "委办局", "海淀区"))
        await check_taxonomy_units(settings, store)
        await check_taxonomy_units(parse({}, tmp_path / "config.toml"), store)  # the shipped file
    finally:
        await store.close()
