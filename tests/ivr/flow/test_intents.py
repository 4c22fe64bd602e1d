"""Menus that understand callers: `intent:` options, urgency first, confirm or one clarifying
question, then an operator; never "选择无效" to a sentence. Keys keep working beside it."""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path
from typing import Any

from ivr.flow.interpreter import Interpreter
from ivr.flow.library import FlowLibrary
from ivr.flow.model import FlowSet
from ivr.flow.services import FlowServices
from ivr.understanding import HotSpots, Understander, load
from ivr.understanding.lexicon import parse
from ivr.understanding.taxonomy import Taxonomy

from .conftest import QUEUES, FakeCall, load_set

SHIPPED = Path(__file__).resolve().parents[3] / "flows" / "understanding.yaml"
MENU = """
defaults: {nomatch: 对不起，您的选择无效。}
global_options:
  - {speech: [救命], intent: 紧急, next: urgent}
nodes:
  menu:
    type: menu
    prompt: 请说出您的问题，或按键。
    on_failure: operator
    options:
      - {key: "1", intent: 咨询, next: ask}
      - {key: "2", intent: 投诉, speech: [投诉], set: {category: 投诉}, next: complain}
      - {key: "3", intent: 求助, next: help}
  ask: {type: hangup, prompt: 咨询}
  complain: {type: queue, queue: general, next: bye}
  help: {type: hangup, prompt: 求助}
  urgent: {type: queue, queue: urgent, priority: 10, next: bye}
  operator: {type: hangup, prompt: 转人工}
  bye: {type: hangup, prompt: 再见}
"""


@functools.cache
def shipped() -> Understander:
    step, findings = load(SHIPPED)
    assert step is not None, findings
    return step


def unsure() -> Understander:
    """A step that is never sure: every intent is asked about before it is taken."""
    text = SHIPPED.read_text(encoding="utf-8").replace("accept: 0.55", "accept: 0.999")
    text = text.replace("confirm: 0.3 ", "confirm: 0.01 ")
    lexicon, findings = parse(text, "u.yaml")
    assert lexicon is not None, findings
    return Understander(lexicon, Taxonomy.load())


async def run(fs: FlowSet, call: FakeCall) -> Any:
    return await Interpreter(fs, call, FlowServices()).run("main")


def with_step(tmp_path: Path, step: Understander | None = None) -> FlowSet:
    fs, problems = load_set(tmp_path, main=MENU)
    assert not [p for p in problems if p.severity == "error"], problems
    return dataclasses.replace(fs, understanding=step or shipped())


def said(call: FakeCall) -> list[str]:
    return [t for texts, _, _ in call.asked for t in texts] + [t for ts in call.played for t in ts]


async def test_a_sentence_reaches_the_option_of_its_intent(tmp_path: Path) -> None:
    call = FakeCall(["楼下烧烤摊天天弄到半夜，油烟大得窗户都没法开"])
    result = await run(with_step(tmp_path), call)
    assert result.route[:2] == ["main:menu", "main:complain"]
    assert result.variables["intent"] == "投诉" and result.variables["category"] == "投诉"
    _, digits, speech = call.asked[0]
    assert speech is not None and speech.phrases is None  # free-form: whole sentences
    assert digits is not None  # keys keep working
    context = call.enqueued[0].context
    assert context.understanding is not None and context.understanding.intent == "投诉"
    assert context.category == ("环境保护", "大气污染", "餐饮油烟")  # the suggestion, not the word 投诉
    assert context.description.startswith("楼下烧烤摊")
    assert context.ivr()["understanding"]["categories"][0] == "环境保护/大气污染/餐饮油烟"


async def test_an_urgent_caller_goes_to_the_urgent_option_at_once(tmp_path: Path) -> None:
    call = FakeCall(["我想问一下，我家厨房一股煤气味，头有点晕"])
    result = await run(with_step(tmp_path), call)
    assert result.route[:2] == ["main:menu", "main:urgent"]
    assert len(call.asked) == 1  # no confirmation, no loop
    request = call.enqueued[0]
    assert request.queue == "urgent" and request.context.urgency == "urgent"


async def test_keys_still_work(tmp_path: Path) -> None:
    result = await run(with_step(tmp_path), FakeCall(["3"]))
    assert result.route == ["main:menu", "main:help"]


async def test_unsure_confirms_and_yes_takes_it(tmp_path: Path) -> None:
    call = FakeCall(["隔壁晚上很吵", "对的"])
    result = await run(with_step(tmp_path, unsure()), call)
    assert result.route[:2] == ["main:menu", "main:complain"]
    assert call.asked[1][0][0].startswith("您是要投诉，对吗？")


async def test_no_to_the_confirmation_asks_one_question(tmp_path: Path) -> None:
    call = FakeCall(["隔壁晚上很吵", "不是", "1"])
    result = await run(with_step(tmp_path, unsure()), call)
    assert "请问您是要咨询" in call.asked[2][0][0]
    assert result.route[:2] == ["main:menu", "main:ask"]  # the clarifying answer by key


async def test_still_unclear_goes_to_an_operator_without_invalid_choice(tmp_path: Path) -> None:
    call = FakeCall(["那个我想说个事", "就是那个"])
    result = await run(with_step(tmp_path), call)
    assert result.route == ["main:menu", "main:operator"]
    assert result.variables["failed_menu"] == "menu"
    assert not any("选择无效" in t for t in said(call))


async def test_without_the_step_a_sentence_is_a_no_match(tmp_path: Path) -> None:
    fs, _ = load_set(tmp_path, main=MENU)
    call = FakeCall(["楼下烧烤太吵", "2"])
    result = await run(fs, call)
    assert result.route[:2] == ["main:menu", "main:complain"]
    assert "对不起，您的选择无效。" in call.asked[1][0]


def test_unknown_and_duplicate_intents_are_positioned(tmp_path: Path) -> None:
    _, problems = load_set(tmp_path, main=MENU.replace("intent: 求助", "intent: 求救"))
    got = [str(p) for p in problems if p.severity == "error"]
    assert any("main.yaml:13:28: error: [menu] '求救' is not one of 咨询, 投诉, 求助" in g for g in got), got
    _, problems = load_set(tmp_path, main=MENU.replace("intent: 咨询", "intent: 投诉"))
    got = [str(p) for p in problems if p.severity == "error"]
    assert any(
        "main.yaml:12:9: error: [menu] duplicate intent '投诉' (first at line 11)" in g for g in got
    ), got


def _save(path: Path, text: str) -> None:
    old = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(old + 2_000_000_000, old + 2_000_000_000))


def test_understanding_file_is_hot_reloaded_and_a_broken_edit_rejected(tmp_path: Path) -> None:
    (tmp_path / "main.yaml").write_text(MENU, encoding="utf-8")
    understanding = tmp_path / "understanding.yaml"
    _save(understanding, SHIPPED.read_text(encoding="utf-8"))
    lib = FlowLibrary(tmp_path, queues=QUEUES)
    assert lib.load() == []
    first = lib.snapshot
    assert set(first.flows) == {"main"} and first.understanding is not None

    _save(understanding, "intents:\n  抱怨: {keywords: [烦]}\n")
    report = lib.reload()
    assert lib.snapshot is first  # the running version stays
    [rejected] = report.rejected
    assert f"{understanding}:2:3: error: unknown intent '抱怨'" in str(rejected.problems[0])

    _save(understanding, SHIPPED.read_text(encoding="utf-8").replace("accept: 0.55", "accept: 0.6"))
    report = lib.reload()
    assert report.rejected == [] and lib.snapshot.version == first.version + 1
    assert lib.snapshot.understanding is not None and lib.snapshot.understanding.lexicon.accept == 0.6
    assert lib.snapshot.flows == first.flows


async def test_calls_about_one_place_make_a_hot_spot(tmp_path: Path) -> None:
    fs = with_step(tmp_path)
    spots, told = HotSpots(threshold=2), []
    services = FlowServices(hotspots=spots, on_hot_spot=told.append)
    for n, words in enumerate(
        ["朝阳区花家地小区墙上裂了好多缝，楼道墙皮往下掉", "花家地小区的墙体开裂越来越厉害"]
    ):
        call = FakeCall([words])
        call.call_id = f"call-{n}"  # type: ignore[misc]
        result = await Interpreter(fs, call, services).run("main")
    assert [s.place for s in told] == ["花家地小区"] and told[0].calls == ("call-0", "call-1")
    assert result.variables["hot_spot"] == 2


async def test_a_menu_without_intents_keeps_its_phrases_but_catches_urgency(tmp_path: Path) -> None:
    plain = MENU.replace('{key: "1", intent: 咨询, next: ask}', '{key: "1", speech: [等待], next: ask}')
    plain = plain.replace("intent: 投诉, ", "").replace("intent: 求助, ", "")
    fs, problems = load_set(tmp_path, main=plain)
    assert not [p for p in problems if p.severity == "error"], problems
    fs = dataclasses.replace(fs, understanding=shipped())
    call = FakeCall(["我还是等一下吧", "等待"])
    result = await run(fs, call)
    assert result.route[:2] == ["main:menu", "main:ask"]
    assert "对不起，您的选择无效。" in call.asked[1][0]  # a plain menu: no questions about intents
    urgent = await run(fs, FakeCall(["我家着火了快来人"]))
    assert urgent.route[:2] == ["main:menu", "main:urgent"]
