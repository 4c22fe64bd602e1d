"""`ivr flows check|schema|graph|try` end to end (argparse in, exit code and output out)."""

from __future__ import annotations

import argparse
import builtins
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ivr.flow.cli import add_commands, main
from ivr.flow.intents import UNDERSTANDING_FILE
from ivr.flow.model import NODE_CLASSES

ROOT = Path(__file__).parents[3]
CONFIG = str(ROOT / "config.toml")
BROKEN = Path(__file__).parent / "broken"
SCRIPTS = Path(__file__).parent / "scripts"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["flows", *argv, "--config", CONFIG])
    out, err = capsys.readouterr()
    return code, out, err


def test_add_commands_wires_every_subcommand() -> None:
    parser = argparse.ArgumentParser(prog="ivr")
    add_commands(parser.add_subparsers(dest="command"))
    for argv in (["check"], ["schema"], ["graph", "main"], ["try", "main"]):
        args = parser.parse_args(["flows", *argv])
        assert callable(args.func) and args.config == "config.toml"


def test_check_shipped_flows_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check")
    assert code == 0, out
    assert "0 error(s)" in err


def test_check_broken_exits_1_with_positions(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", str(BROKEN / "missing_target.yaml"), str(BROKEN / "unreachable.yaml"))
    assert code == 1
    assert "missing_target.yaml:7:9: error: [menu] missing target 'goodby'" in out


def test_warnings_pass_unless_strict(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "check", str(BROKEN / "unreachable.yaml"))[0] == 0
    assert run(capsys, "check", "--strict", str(BROKEN / "unreachable.yaml"))[0] == 1


def test_check_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--json", str(BROKEN))
    doc = json.loads(out)
    assert code == 1 and doc["errors"] >= 19
    dup = next(p for p in doc["problems"] if "duplicate DTMF key" in p["message"])
    assert (dup["line"], dup["col"], dup["node"], dup["severity"]) == (10, 9, "menu", "error")


def test_check_with_vocabulary_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    words = tmp_path / "words.txt"
    words.write_text("<eps> 0\n人工 1\n咨询 2\n打听 3\n", encoding="utf-8")
    code, out, _ = run(capsys, "check", "--vocab", str(words), str(BROKEN / "oov_phrase.yaml"))
    assert code == 1 and "the speech model lacks 服务" in out


def test_schema_matches_the_loader(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    schema = json.loads(out)
    assert code == 0 and schema["required"] == ["nodes"]
    variants = {v["if"]["properties"]["type"]["const"]: v["then"] for v in schema["$defs"]["node"]["allOf"]}
    assert set(variants) == set(NODE_CLASSES)
    assert {"prompt", "options"} <= set(variants["menu"]["required"])
    # every field the shipped flows use is declared, so editors accept them
    for path in (ROOT / "flows").glob("*.yaml"):
        if path.name == UNDERSTANDING_FILE:
            continue
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert set(doc) <= set(schema["properties"])
        for node in doc["nodes"].values():
            assert set(node) <= set(variants[node["type"]]["properties"]), (path.name, node)


def test_graph_mermaid_and_dot(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "graph", "main")
    assert code == 0 and out.startswith("flowchart TD")
    assert 'n_main_menu -->|"2"| n_route_call' in out
    assert 'n_urgent -->|"timeout"| n_urgent_linkage' in out
    code, out, _ = run(capsys, "graph", "survey", "--dot")
    assert code == 0 and out.startswith('digraph "survey"') and '"ask" -> "why" [label="3"];' in out


def test_graph_of_broken_flow_fails(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "graph", str(BROKEN / "yaml_syntax.yaml"))
    assert code == 1 and "YAML syntax error" in err


@pytest.mark.parametrize("flow", ["main", "survey", "epidemic"])
def test_shipped_scripts_pass(flow: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "try", flow, "--script", str(SCRIPTS / f"{flow}.yaml"))
    assert code == 0, out
    assert "FAIL" not in out and "case(s) passed" in err
    assert "path: " in out


def test_script_expectation_failure_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "s.yaml"
    script.write_text(
        'time: "2025-03-04 10:00"\nsteps: ["2", queue completed]\n'
        "expect: {path: [urgent], vars: {category: 咨询}}\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "try", "main", "--script", str(script))
    assert code == 1
    assert "FAIL: path does not reach 'urgent'" in out and "FAIL: variable category is '投诉'" in out


def test_interactive_try(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    lines: Iterator[str] = iter(["", "say 我要咨询", "queue operator_hangup", "1"])

    def fake_input(prompt: str = "") -> str:
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr(builtins, "input", fake_input)
    code, out, _ = run(capsys, "try", "main", "--time", "2025-03-04 10:00")
    assert code == 0
    assert "IVR: 对不起，没有听到您的选择。" in out
    assert "caller says '我要咨询'" in out and "main:survey -> survey:ask -> survey:thanks" in out
    assert "outcome: hangup" in out


def test_try_unknown_flow(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "try", "nosuch")
    assert code == 1 and "not usable" in err
