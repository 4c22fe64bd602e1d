"""What `ivr cluster status` reports, from two kinds of small files under the cluster's workdir.

- `state.json`, written by `ivr cluster up`: its own pid, the trunk address, and per node the pid,
  ports and folder. Only that process writes it.
- `<node>/status.json`, rewritten every second by each node (`ivr serve --status-file`): calls now
  and calls handled. Files, not an HTTP endpoint: readable by whoever can read the workdir and
  nobody else, with nothing new listening on the network.

Both are replaced atomically (write, then rename), so a reader never sees half a file.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STATE = "state.json"
STALE_SECONDS = 5.0  # a node whose figures are older than this is reported "stale"


def write_json(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


async def publish_figures(path: Path, figures: Callable[[], dict[str, int]], interval: float = 1.0) -> None:
    """A node's side: rewrite path with `figures()` plus pid and time every interval, until cancelled."""
    while True:
        write_json(path, {"pid": os.getpid(), "updated": time.time(), **figures()})
        await asyncio.sleep(interval)


def alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    try:  # a child that died but was not reaped yet is a zombie: dead for our purpose
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def node_state(node: dict[str, Any], figures: dict[str, Any] | None, now: float) -> str:
    """up | starting | stale | down."""
    if not alive(int(node.get("pid", 0))):
        return "down"
    if figures is None or int(figures.get("pid", 0)) != int(node.get("pid", 0)):
        return "starting"
    return "up" if now - float(figures.get("updated", 0)) <= STALE_SECONDS else "stale"


def cluster_status(workdir: Path) -> dict[str, Any]:
    """The status document: {"running", "trunk", "proxy", "broker", "nodes": [{"name", "pid",
    "sip_port", "state", "calls_now", "calls_handled", ...}]}. running is false (and nodes empty)
    when no `ivr cluster up` is running for this workdir."""
    state = read_json(workdir / STATE)
    if state is None or not alive(int(state.get("pid", 0))):
        return {"running": False, "workdir": str(workdir), "nodes": []}
    now = time.time()
    nodes = []
    for node in state.get("nodes", []):
        figures = read_json(Path(node["folder"]) / "status.json")
        current = node_state(node, figures, now)
        fresh = figures if current in ("up", "stale") and figures is not None else {}
        nodes.append(
            {
                "name": node["name"],
                "pid": node["pid"],
                "sip_port": node["sip_port"],
                "state": current,
                "calls_now": int(fresh.get("calls_now", 0)),
                "calls_handled": int(fresh.get("calls_handled", 0)),
                "web_port": node.get("web_port", 0),
                "console": node.get("console", ""),
            }
        )
    proxy = dict(state.get("proxy", {}))
    proxy["state"] = "up" if alive(int(proxy.get("pid", 0))) else "down"
    return {
        "running": True,
        "workdir": str(workdir),
        "pid": state["pid"],
        "trunk": state.get("trunk", ""),
        "proxy": proxy,
        "broker": state.get("broker", {}),
        "nodes": nodes,
    }


def format_status(doc: dict[str, Any]) -> str:
    if not doc["running"]:
        return f"no cluster running for {doc['workdir']}"
    lines = [
        f"trunk: {doc['trunk']}  (kamailio pid {doc['proxy'].get('pid')}, {doc['proxy']['state']})",
        f"{'node':<8} {'pid':>8} {'sip':>6} {'state':<9} {'now':>5} {'handled':>8}  console",
    ]
    for n in doc["nodes"]:
        lines.append(
            f"{n['name']:<8} {n['pid']:>8} {n['sip_port']:>6} {n['state']:<9} "
            f"{n['calls_now']:>5} {n['calls_handled']:>8}  {n['console']}"
        )
    return "\n".join(lines)
