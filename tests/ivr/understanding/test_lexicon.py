"""The admins' understanding file: every mistake is reported at file:line:col."""

from __future__ import annotations

from ivr.understanding.lexicon import parse

from .conftest import SHIPPED, shipped

GOOD = """
intents:
  投诉:
    keywords: [投诉]
    examples: [楼下太吵了]
"""


def test_shipped_file_loads_with_every_intent() -> None:
    step = shipped()
    assert set(step.lexicon.intent_names) == {"咨询", "投诉", "求助", "建议", "表扬", "查询工单", "人工"}
    assert step.lexicon.urgent_words and step.lexicon.districts
    assert 0 < step.lexicon.confirm < step.lexicon.accept < 1


def test_minimal_file_loads() -> None:
    lexicon, findings = parse(GOOD, "u.yaml")
    assert findings == [] and lexicon is not None
    assert lexicon.intents[0].keywords == ("投诉",)


def test_unknown_intent_and_field_are_positioned() -> None:
    text = GOOD + "  抱怨:\n    keywords: [烦]\n  咨询:\n    keyword: [问]\n"
    lexicon, findings = parse(text, "u.yaml")
    assert lexicon is None
    got = [str(f) for f in findings]
    assert "u.yaml:6:3: error: unknown intent '抱怨'" in got[0]
    assert any(s.startswith("u.yaml:9:5: error: 咨询: unknown field 'keyword'") for s in got)


def test_category_must_be_in_the_taxonomy() -> None:
    text = GOOD + "categories:\n  城市管理/市容环境/占道经营: [摆摊]\n  城市管理/市容/乱摆: [乱摆]\n"
    known = {"城市管理/市容环境/占道经营": object()}
    lexicon, findings = parse(text, "u.yaml", known)
    assert lexicon is None
    assert [str(f) for f in findings] == [
        "u.yaml:8:3: error: category '城市管理/市容/乱摆' is not in the taxonomy (一级/二级/三级)"
    ]


def test_thresholds_and_yaml_errors() -> None:
    _, findings = parse(GOOD + "thresholds: {accept: 2}\n", "u.yaml")
    assert str(findings[0]).startswith("u.yaml:6:22: error: thresholds.accept: expected a number from 0 to 1")
    _, findings = parse(GOOD + "urgent: [oops\n", "u.yaml")
    assert str(findings[0]).startswith("u.yaml:") and "not valid YAML" in str(findings[0])


def test_shipped_file_is_where_the_flows_are() -> None:
    assert SHIPPED.parent.name == "flows" and (SHIPPED.parent / "main.yaml").is_file()
