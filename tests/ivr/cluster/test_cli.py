"""`ivr cluster kamailio` and `ivr cluster status` without a running cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ivr.cli import main


def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[cluster]\nworkdir = "var"\nproxy_bind = "10.0.0.10"\n', encoding="utf-8")
    return path


def test_kamailio_writes_a_checked_config_for_nodes_elsewhere(tmp_path: Path) -> None:
    out = tmp_path / "front"
    args = ["cluster", "kamailio", "--config", str(config(tmp_path)), "--out", str(out)]
    assert main([*args, "--node", "10.0.0.21:5070", "--node", "10.0.0.22:5070"]) == 0
    assert "1 sip:10.0.0.22:5070 0 0" in (out / "dispatcher.list").read_text()
    assert "listen=udp:10.0.0.10:5060" in (out / "kamailio.cfg").read_text()


def test_kamailio_refuses_a_node_without_a_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["cluster", "kamailio", "--config", str(config(tmp_path)), "--out", str(tmp_path)]
    assert main([*args, "--node", "10.0.0.21"]) == 2
    assert "expected HOST:PORT" in capsys.readouterr().err


def test_status_without_a_cluster_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cluster", "status", "--config", str(config(tmp_path)), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc == {"running": False, "workdir": str(tmp_path / "var"), "nodes": []}


def test_a_typo_in_cluster_settings_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[cluster]\nnode = 3\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["cluster", "up", "--config", str(path)])
    assert exc.value.code == 2 and "[cluster] node: unknown key" in capsys.readouterr().err
