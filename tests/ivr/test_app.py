"""What `ivr serve` checks against the store before it answers: the centre's taxonomy names
units the store knows (a real SQLite file)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ivr.app import check_taxonomy_units
from ivr.config import parse
from ivr.records import Unit
from ivr.store import open_store


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
