"""A centre's own taxonomy CSV checked before use (ivr/understanding/taxonomy.py `check`, and
`ivr taxonomy` against a store's units), and type-ahead at a real centre's size."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

from ivr.understanding.taxonomy import Taxonomy, check

UNITS = ["朝阳区城管执法局", "海淀区城管执法局", "市交通委", "朝阳区水务局"]


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["category1", "category2", "category3", "unit"])
        w.writerows(rows)
    return path


def _centre_file(path: Path, n: int) -> Path:
    """n distinct three-level rows, like a real centre's (2,600+)."""
    rows = []
    for i in range(n):
        rows.append(
            [f"一级{i % 12}", f"二级{i % 12}-{i % 97}", f"三级{i}", "{区}城管执法局" if i % 2 else "市交通委"]
        )
    return _write(path, rows)


def test_problems_with_line_numbers(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "t.csv",
        [
            ["城市管理", "市政设施", "路灯", "{区}城管执法局"],
            ["城市管理", "市政设施", "路灯", "{区}城管执法局"],  # line 3 repeats line 2
            ["城市管理", "", "井盖", "市交通委"],
            ["交通", "公交", "线路", "市公交集团"],  # not a unit of the store
            ["交通", "公交", "站牌", ""],
        ],
    )
    items, problems = check(f, UNITS)
    assert [c.path for c in items] == ["城市管理/市政设施/路灯"]
    assert problems == [
        f"{f}:3: 城市管理/市政设施/路灯 repeats line 2",
        f"{f}:4: empty category2",
        f"{f}:5: unknown unit '市公交集团' (not among the store's units)",
        f"{f}:6: no unit for 交通/公交/站牌",
    ]
    assert check(_write(tmp_path / "cols.csv", []), UNITS)[1] == []
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    assert check(bad)[1] == [f"{bad}:1: missing column(s) category1, category2, category3, unit"]


def test_a_centre_sized_file_checks_clean_and_type_ahead_stays_fast(tmp_path: Path) -> None:
    items, problems = check(_centre_file(tmp_path / "big.csv", 3000), UNITS)
    assert problems == [] and len(items) == 3000
    taxonomy = Taxonomy(items)
    times = []
    for i in range(200):
        start = time.perf_counter()
        found = taxonomy.search(["三级12", "二级3", "一级5 三级", "三级299"][i % 4])
        times.append(time.perf_counter() - start)
        assert found
    times.sort()
    assert times[int(len(times) * 0.99)] < 0.050  # p99 under 50 ms (bench/taxonomy.py measures it)


def test_ivr_taxonomy_command(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text('[store]\npath = "h.db"\n')
    env = {**os.environ, "IVR_UNIT_PASSWORD": ""}
    run = [sys.executable, "-m", "ivr.cli"]
    subprocess.run(
        [*run, "unit", "--config", str(tmp_path / "c.toml"), "add", "jt", "市交通委"],
        check=True,
        env=env,
        timeout=60,
    )
    good = _write(tmp_path / "good.csv", [["交通", "公交", "线路", "市交通委"]])
    out = subprocess.run(
        [*run, "taxonomy", str(good), "--config", str(tmp_path / "c.toml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0 and "1 categories, 0 problem(s)" in out.stdout
    bad = _write(tmp_path / "bad.csv", [["交通", "公交", "线路", "{区}城管执法局"]])
    out = subprocess.run(
        [*run, "taxonomy", str(bad), "--config", str(tmp_path / "c.toml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 1 and f"{bad}:2: unknown unit" in out.stdout
