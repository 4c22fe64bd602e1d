"""The checker's messages, positions and node ids on the broken flows in tests/ivr/flow/broken/."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.flow.checker import check_set, load_file
from ivr.flow.intents import UNDERSTANDING_FILE
from ivr.flow.model import Menu, Problem

from .conftest import QUEUES, load_set

BROKEN = Path(__file__).parent / "broken"
SHIPPED = Path(__file__).parents[3] / "flows"

# file -> (line, col, node id, severity, words the message must contain)
EXPECTED: dict[str, tuple[int, int, str | None, str, str]] = {
    "unknown_type": (6, 11, "main_menu", "error", "unknown node type 'meun' (did you mean 'menu'?)"),
    "missing_target": (7, 9, "menu", "error", "missing target 'goodby' (did you mean 'goodbye'?)"),
    "unreachable": (5, 3, "orphan", "warning", "unreachable"),
    "loop_no_exit": (5, 3, "ring", "error", "loop without an exit: ring -> again"),
    "duplicate_key": (10, 9, "menu", "error", "duplicate DTMF key '1' (first at line 8)"),
    "empty_prompt": (3, 5, "hello", "error", "empty prompt"),
    "missing_wav": (4, 10, "hello", "error", "missing WAV file 'greetings/welcome.wav'"),
    "unknown_queue": (
        4,
        12,
        "to_operator",
        "error",
        "queue 'genral' is not in config (did you mean 'general'?)",
    ),
    "yaml_syntax": (7, 1, None, "error", "YAML syntax error"),
    "tabs": (3, 1, None, "error", "tabs"),
    "unknown_field": (
        4,
        5,
        "menu",
        "error",
        "unknown field 'promt' for a menu node (did you mean 'prompt'?)",
    ),
    "bad_condition": (4, 11, "check", "error", "give exactly one comparison"),
    "unknown_flow": (4, 11, "sub", "error", "unknown flow 'servey'"),
    "empty": (1, 1, None, "error", "the file is empty"),
    "not_mapping": (1, 1, None, "error", "a flow file is a mapping with nodes:"),
    "duplicate_node": (5, 3, None, "error", "duplicate key 'hello' (first at line 2)"),
    "bad_pattern": (6, 14, "id", "error", "invalid pattern"),
    "no_calendar": (2, 3, "open", "error", "needs a calendar"),
    "wrong_types": (5, 19, "menu", "error", "expected a whole number"),
    "speech_only": (3, 5, None, "warning", "option to 'urgent' has phrases but no key"),
}


def check(name: str, vocabulary: set[str] | None = None) -> list[Problem]:
    path = BROKEN / f"{name}.yaml"
    flow, problems = load_file(path, vocabulary=vocabulary)
    flows = {flow.name: flow} if flow else {}
    return problems + check_set(flows, QUEUES)[1]


def test_every_broken_file_is_covered() -> None:
    assert {p.stem for p in BROKEN.glob("*.yaml")} == set(EXPECTED) | {"oov_phrase"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_flow_is_reported_where_it_is(name: str) -> None:
    line, col, node, severity, words = EXPECTED[name]
    problems = [p for p in check(name) if p.severity != "note"]
    hit = [p for p in problems if words in p.message]
    assert hit, [str(p) for p in problems]
    p = hit[0]
    assert (p.pos.line, p.pos.col, p.node, p.severity) == (line, col, node, severity), str(p)
    assert str(p).startswith(f"{BROKEN / name}.yaml:{line}:{col}: {severity}: ")


def test_shipped_flows_have_a_key_for_every_spoken_option() -> None:
    """The shipped config has no speech model: every option (urgent among them) has a key."""
    for path in SHIPPED.glob("*.yaml"):
        if path.name == UNDERSTANDING_FILE:
            continue
        _, problems = load_file(path)
        assert not [str(p) for p in problems if "no key" in p.message], path


def test_wrong_types_reports_each_field() -> None:
    messages = [str(p) for p in check("wrong_types") if p.severity == "error"]
    assert any(":6:15:" in m and "expected true or false" in m for m in messages)
    assert any(":8:15:" in m and "DTMF key '12'" in m for m in messages)


def test_oov_words_are_reported_against_the_vocabulary() -> None:
    vocab = {"人工", "咨询", "服"}
    problems = check("oov_phrase", vocab)
    warning = next(p for p in problems if "lacks" in p.message)
    assert warning.severity == "warning" and warning.node == "menu" and "务" in warning.message
    # the first option has no usable phrase and no key: callers could never choose it
    assert any(p.severity == "error" and "vocabulary" in p.message for p in problems)
    full = check("oov_phrase", {"人工", "服务", "咨询", "打听"})
    assert not [p for p in full if p.severity != "note"]


def test_segmented_grammar_uses_vocabulary_words(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "nodes:\n  m: {type: menu, prompt: 请说, on_failure: m2,"
        " options: [{speech: [转人工服务], next: m2}]}\n"
        "  m2: {type: hangup}\n",
        encoding="utf-8",
    )
    flow, problems = load_file(path, vocabulary={"转", "人工", "服务", "人工服务"})
    assert flow is not None and not [p for p in problems if p.severity == "error"]
    menu = flow.nodes["m"]
    assert isinstance(menu, Menu) and menu.options[0].grammar == ("转 人工服务",)


def test_no_model_is_a_note_not_an_error() -> None:
    problems = check("oov_phrase")
    # its options are spoken only: unreachable without a model (a warning), otherwise fine
    assert [p.severity for p in problems if "no key" not in p.message] == ["note"]


def test_shipped_flows_are_clean() -> None:
    flows = {}
    for path in sorted(SHIPPED.glob("*.yaml")):
        if path.name == UNDERSTANDING_FILE:  # not a flow: tests/ivr/understanding checks it
            continue
        flow, problems = load_file(path)
        assert not [p for p in problems if p.severity != "note"], [str(p) for p in problems]
        assert flow is not None
        flows[flow.name] = flow
    calendars, problems = check_set(flows, QUEUES)
    assert problems == [], [str(p) for p in problems]
    assert {"main", "survey", "epidemic"} <= set(flows)
    assert sorted(Path(p).name for p in calendars) == ["12345.yaml", "office-hours.yaml"]


def test_cross_flow_checks(tmp_path: Path) -> None:
    _, problems = load_set(
        tmp_path,
        a="nodes:\n  c: {type: call, flow: b}\n",
        b="nodes:\n  c: {type: call, flow: a}\n",
    )
    assert any("call each other in a circle" in p.message for p in problems)


def test_unknown_variable_is_a_warning(tmp_path: Path) -> None:
    _, problems = load_set(tmp_path, a="nodes:\n  s: {type: say, text: '您好{calller}'}\n")
    p = next(p for p in problems if "never set" in p.message)
    assert p.severity == "warning" and "did you mean 'caller'" in p.message


def test_quiet_loop_with_exit_is_a_warning(tmp_path: Path) -> None:
    text = """
nodes:
  a: {type: set, values: {n: 1}}
  b: {type: if, when: {var: n, gt: 3}, then: end, else: a}
  end: {type: hangup}
"""
    _, problems = load_set(tmp_path, a=text)
    assert [p.severity for p in problems if "spin forever" in p.message] == ["warning"]


def test_menu_with_hidden_global_key_warns(tmp_path: Path) -> None:
    text = """
global_options: [{key: "0", next: end}]
nodes:
  m: {type: menu, prompt: 请按, on_failure: end, options: [{key: "0", next: end}]}
  end: {type: hangup}
"""
    _, problems = load_set(tmp_path, a=text)
    assert any(p.severity == "warning" and "hides the global option" in p.message for p in problems)


def test_bad_bytes_and_unreadable_files_are_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bin.yaml"
    bad.write_bytes(b"nodes:\n  a: {type: say, text: \xff\xfe}\n")
    flow, problems = load_file(bad)
    assert flow is None and "not UTF-8" in problems[0].message
    flow, problems = load_file(tmp_path / "missing.yaml")
    assert flow is None and "cannot read" in problems[0].message
    flow, problems = load_file(tmp_path / "x.yaml", text="a: &a [*a]\nnodes: *a\n")
    assert flow is None and problems


SHIPPED_MAIN = (SHIPPED / "main.yaml").read_text(encoding="utf-8")


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_loader_never_raises_on_any_text(text: str) -> None:
    flow, problems = load_file(Path("fuzz.yaml"), text=text)
    assert flow is not None or problems


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_loader_never_raises_on_mangled_real_flow(data: st.DataObject) -> None:
    lines = SHIPPED_MAIN.splitlines()
    i = data.draw(st.integers(0, len(lines) - 1))
    action = data.draw(st.sampled_from(["drop", "dedent", "indent", "garble", "duplicate"]))
    line = lines[i]
    lines[i : i + 1] = {
        "drop": [],
        "dedent": [line.lstrip()],
        "indent": ["   " + line],
        "garble": [line.replace(":", "", 1).replace("{", "[", 1)],
        "duplicate": [line, line],
    }[action]
    flow, problems = load_file(SHIPPED / "main.yaml", text="\n".join(lines))
    flows = {flow.name: flow} if flow else {}
    check_set(flows, QUEUES)  # must not raise either
    assert flow is not None or problems


def test_an_intent_menu_sets_what_the_understanding_step_found(tmp_path: Path) -> None:
    say = "  s: {type: say, text: '已有{hot_spot}位市民反映，您说的是{said}'}\n"
    menu = "  m: {type: menu, prompt: 请说, options: [{key: '1', intent: 投诉, next: s}]}\n"
    _, problems = load_set(tmp_path, a=f"nodes:\n{menu}{say}")
    assert not [p for p in problems if "never set" in p.message], problems
    _, problems = load_set(tmp_path, b=f"nodes:\n{say}")
    assert {p.message.split("}")[0] for p in problems if "never set" in p.message} == {"{hot_spot", "{said"}
