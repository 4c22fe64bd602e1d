"""The quality checklist file (ivr.checklist): the shipped one reads, every defect is named with
file:line:col, the config check stops the start on one, and scores follow weights and 差错."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.checklist import load_checklist
from ivr.config import ConfigError, load
from ivr.records import ScoreError

ROOT = Path(__file__).resolve().parents[2]

BAD = """\
name: 质检表
items:
  - {id: greeting, name: 开场规范, weight: 10}
  - {id: greeting, name: 重复, weight: 5}
  - {id: tone, name: 语气, weight: ten}
  - {id: answer, name: 答复, weight: 20, colour: red}
  - {name: 无编号, weight: 5}
fatal:
  - {id: leak, name: 泄露信息, score: 120}
"""


def test_the_shipped_checklist_reads() -> None:
    checklist, problems = load_checklist(ROOT / "flows" / "quality" / "checklist.yaml")
    assert problems == [] and checklist is not None
    assert sum(i.weight for i in checklist.items) == 100
    assert {f.id for f in checklist.fatal} >= {"leak", "rude"}


def test_every_defect_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "qa.yaml"
    path.write_text(BAD, encoding="utf-8")
    checklist, problems = load_checklist(path)
    assert checklist is None
    found = [str(p) for p in problems]
    assert any(f"{path}:4:" in p and "'greeting' is used already (line 3)" in p for p in found), found
    assert any(f"{path}:5:" in p and "weight should be a number" in p for p in found), found
    assert any(f"{path}:6:" in p and "unknown key 'colour'" in p for p in found), found
    assert any(f"{path}:7:" in p and "id is missing" in p for p in found), found
    assert any(f"{path}:9:" in p and "score should be a number from 0 to 100" in p for p in found), found


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("name: x\nitems: [\n", 3, "YAML syntax error"),
        ("name: x\n", 1, "items is missing"),
        ("name: x\nitems: []\n", 2, "at least one item"),
        ("items:\n  - {id: a, name: A}\n", 2, "weight is missing"),
    ],
)
def test_structural_defects(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = tmp_path / "qa.yaml"
    path.write_text(text, encoding="utf-8")
    _, problems = load_checklist(path)
    assert any(p.pos.line == line and words in p.message for p in problems), [str(p) for p in problems]


def test_a_bad_checklist_stops_the_config_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "audio").mkdir()
    (tmp_path / "flows" / "qa.yaml").write_text(BAD, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text('[qa]\nchecklist = "flows/qa.yaml"\nshare = 0.1\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(config)
    lines = caught.value.problems
    assert any("[qa] checklist:" in p and "qa.yaml:5:" in p for p in lines), lines
    config.write_text('[qa]\nchecklist = "flows/none.yaml"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(config)
    assert any("none.yaml" in p and "cannot read" in p for p in caught.value.problems)
    config.write_text("[qa]\nshare = 1.5\nlong_call_seconds = -1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(config)
    assert any("[qa] share: expected a share from 0 to 1" in p for p in caught.value.problems)
    assert any("[qa] long_call_seconds" in p for p in caught.value.problems)


def test_scores_follow_weights_and_fatal_errors() -> None:
    checklist, _ = load_checklist(ROOT / "flows" / "quality" / "checklist.yaml")
    assert checklist is not None
    full = {i.id: i.weight for i in checklist.items}
    assert checklist.score(full) == 100.0
    half_of_answer = {**full, "answer": 10}  # 20 points, half given
    assert checklist.score(half_of_answer) == 90.0
    assert checklist.score(full, ("leak",)) == 0.0  # a 差错 zeroes the call
    assert checklist.score(full, ("wrong_policy",)) == 40.0  # or caps it
    assert checklist.score(half_of_answer, ("wrong_policy",)) == 40.0
    with pytest.raises(ScoreError, match="未评分"):
        checklist.score({"greeting": 5})
    with pytest.raises(ScoreError, match="0 到 5"):
        checklist.score({**full, "greeting": 6})
    with pytest.raises(ScoreError, match="不存在"):
        checklist.score({**full, "bogus": 1})
    with pytest.raises(ScoreError, match="差错项不存在"):
        checklist.score(full, ("nope",))
