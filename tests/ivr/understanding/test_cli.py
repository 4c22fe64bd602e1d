"""`ivr understand` as an admin runs it: readable lines, or one JSON object."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import ROOT


def understand(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ivr.cli", "understand", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_json_has_the_documented_keys() -> None:
    got = understand("--json", "我家厨房一股煤气味，朝阳区安贞里小区")
    assert got.returncode == 0, got.stderr
    doc = json.loads(got.stdout)
    assert doc["intent"] == "求助" and doc["urgent"] is True
    assert doc["categories"][0].count("/") == 2
    assert doc["place"]["district"] == "朝阳区"
    assert doc["reasons"] and {"intent", "urgent", "categories", "place", "reasons"} <= set(doc)


def test_text_output_names_each_decision() -> None:
    got = understand("楼下烧烤摊天天弄到半夜，油烟大得窗户都没法开")
    assert got.returncode == 0, got.stderr
    assert "intent:     投诉" in got.stdout
    assert "category 1: 环境保护/大气污染/餐饮油烟" in got.stdout
    assert "because" in got.stdout


def test_a_broken_file_is_reported_with_its_position(tmp_path: object) -> None:
    from pathlib import Path

    bad = Path(str(tmp_path)) / "u.yaml"
    bad.write_text("intents:\n  抱怨: {keywords: [烦]}\n", encoding="utf-8")
    got = understand("--file", str(bad), "你好")
    assert got.returncode == 1
    assert f"{bad}:2:3: error: unknown intent '抱怨'" in got.stderr
