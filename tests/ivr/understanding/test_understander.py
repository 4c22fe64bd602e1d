"""The understanding step on callers' own words, and its floors on the development set.

The measured figures are in the README (bench/understanding.py); the floors here sit well below
them, to catch a regression, not to pin numbers.
"""

from __future__ import annotations

import random

import pytest

from ivr.understanding.evaluation import measure, noisy, read

from .conftest import DEVSET, shipped


def test_the_barbecue_is_a_complaint_about_cooking_smoke() -> None:
    u = shipped().understand("楼下烧烤摊天天弄到半夜，油烟大得窗户都没法开")
    assert u.intent == "投诉" and not u.urgent
    assert u.categories[0] == "环境保护/大气污染/餐饮油烟"
    assert "油烟" in u.intent_words
    assert any(r.startswith("intent 投诉") for r in u.reasons)


@pytest.mark.parametrize(
    "said",
    [
        "我家厨房一股煤气味，头有点晕",
        "对面楼着火了，浓烟滚滚的",
        "我爸突然晕倒了，叫也叫不醒",
        "我老公说胸口疼，喘不上气",
        "我奶奶一个人在家，发高烧起不来",
        "有个孩子被锁在车里了",
        "有个人在天桥底下露宿，今晚零下十度",
        "这楼在晃，裂缝越来越大",
    ],
)
def test_risk_to_life_is_urgent_and_taken_as_a_call_for_help(said: str) -> None:
    u = shipped().understand(said)
    assert u.urgent and u.urgent_words, u.reasons
    assert u.intent == "求助"
    assert any(r.startswith("urgent:") for r in u.reasons)


@pytest.mark.parametrize(
    "said",
    [
        "楼道里堆的纸箱子是火灾隐患",
        "请问燃气安全检查收费吗",
        "去年我们楼着过一次火",
        "家里燃气灶打不着火了",
        "万一着火消防车都进不来",
    ],
)
def test_hazards_questions_and_past_events_are_not_urgent(said: str) -> None:
    assert not shipped().understand(said).urgent


def test_a_negated_praise_word_is_not_praise() -> None:
    u = shipped().understand("物业一点都不负责，垃圾没人收，我要投诉")
    assert u.intent == "投诉"


def test_vague_words_are_unclear_or_unsure() -> None:
    step = shipped()
    u = step.understand("那个我想说个事")
    assert u.intent == "unclear" or u.confidence < step.lexicon.accept


def test_place_numbers_and_unit() -> None:
    u = shipped().understand("朝阳区望京街道花家地小区门口井盖没了，我电话幺三八零零一三八零零零")
    assert u.place == {"district": "朝阳区", "street": "望京街道", "compound": "花家地小区"}
    assert u.numbers == {"phone": "13800138000"}
    assert u.categories[0] == "城市管理/户外设施/井盖缺失"
    assert u.units[0] == "朝阳区城管执法局"  # {区} filled from the place


def test_recognizer_output_with_spaces_and_unknown_marks() -> None:
    u = shipped().understand("楼下 烧烤 [unk] 油烟 太大 了")
    assert u.intent == "投诉" and u.categories[0] == "环境保护/大气污染/餐饮油烟"


def test_noise_is_seeded_and_near_the_rate() -> None:
    text = "楼下烧烤摊天天弄到半夜油烟大得窗户都没法开" * 10
    a = noisy(text, 0.17, random.Random(1))
    assert a == noisy(text, 0.17, random.Random(1))
    cer = _distance(a, text) / len(text)
    assert 0.12 < cer < 0.22, cer


def _distance(a: str, b: str) -> int:
    """Levenshtein distance: what a character error rate counts."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, start=1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def test_development_set_floors() -> None:
    samples = read(DEVSET)
    assert len(samples) >= 300
    step = shipped()
    f = measure((s, step.understand(s.text)) for s in samples)
    assert f.urgent_recall == 1.0  # no urgent caller of the set is missed
    assert f.false_urgent_rate <= 0.05
    assert f.intent_accuracy >= 0.8
    assert f.category_top3 >= 0.78
    assert f.place_found >= 0.7


def test_development_set_with_recognition_noise_floors() -> None:
    samples = read(DEVSET)
    step = shipped()
    rng = random.Random(12345)
    f = measure((s, step.understand(noisy(s.text, 0.17, rng))) for s in samples)
    assert f.intent_accuracy >= 0.7
    assert f.urgent_recall >= 0.6
    assert f.false_urgent_rate <= 0.05
