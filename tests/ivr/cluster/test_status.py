"""`ivr cluster status` from the supervisor's state file and the nodes' figure files."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

from ivr.cluster import status


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def node(name: str, pid: int, folder: Path) -> dict[str, object]:
    return {"name": name, "pid": pid, "sip_port": 5401, "web_port": 0, "console": "", "folder": str(folder)}


def test_no_state_file_means_no_cluster(tmp_path: Path) -> None:
    assert status.cluster_status(tmp_path) == {"running": False, "workdir": str(tmp_path), "nodes": []}


def test_a_state_file_left_by_a_dead_supervisor_means_no_cluster(tmp_path: Path) -> None:
    status.write_json(
        tmp_path / status.STATE, {"pid": dead_pid(), "nodes": [node("node1", os.getpid(), tmp_path)]}
    )
    assert status.cluster_status(tmp_path)["running"] is False


async def test_nodes_are_up_starting_stale_or_down(tmp_path: Path) -> None:
    me = os.getpid()
    folders = {n: tmp_path / n for n in ("up", "starting", "stale", "down")}
    figures = asyncio.ensure_future(
        status.publish_figures(folders["up"] / "status.json", lambda: {"calls_now": 2, "calls_handled": 7})
    )
    await asyncio.sleep(0.05)
    figures.cancel()
    status.write_json(
        folders["stale"] / "status.json", {"pid": me, "updated": time.time() - 60, "calls_now": 1}
    )
    status.write_json(
        tmp_path / status.STATE,
        {
            "pid": me,
            "trunk": "sip:12345@127.0.0.1:5060",
            "proxy": {"pid": dead_pid()},
            "nodes": [
                node("up", me, folders["up"]),
                node("starting", me, folders["starting"]),
                node("stale", me, folders["stale"]),
                node("down", dead_pid(), folders["down"]),
            ],
        },
    )
    doc = status.cluster_status(tmp_path)
    assert doc["running"] and doc["trunk"] == "sip:12345@127.0.0.1:5060"
    assert doc["proxy"]["state"] == "down"
    got = {n["name"]: (n["state"], n["calls_now"], n["calls_handled"]) for n in doc["nodes"]}
    assert got == {
        "up": ("up", 2, 7),
        "starting": ("starting", 0, 0),
        "stale": ("stale", 1, 0),
        "down": ("down", 0, 0),
    }
    assert set(doc["nodes"][0]) >= {"name", "pid", "sip_port", "state", "calls_now", "calls_handled"}
    text = status.format_status(doc)
    assert "trunk: sip:12345@127.0.0.1:5060" in text and text.count("\n") == 5
