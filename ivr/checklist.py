"""The checklist file a centre keeps for quality checks (质检), read with positions: every defect
names its file:line:col as the flow checker does (format: `ivr.quality`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ivr.flow import source as src
from ivr.flow.model import Pos, Problem
from ivr.records import Checklist, ChecklistItem, FatalError

_ID = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
_TOP = ("name", "version", "pass_score", "items", "fatal")
_ITEM = ("id", "name", "weight", "description")
_FATAL = ("id", "name", "score", "description")


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.file = str(path)
        self.problems: list[Problem] = []

    def add(self, node: src.YNode | None, message: str) -> None:
        self.problems.append(Problem(self.file, src.pos_of(node), message))

    def fields(self, node: src.YNode, known: tuple[str, ...], what: str) -> dict[str, tuple[Any, src.YNode]]:
        out: dict[str, tuple[Any, src.YNode]] = {}
        for key, knode, vnode in src.items(node, self.file, self.problems):
            if key not in known:
                self.add(knode, f"unknown key {key!r} in {what} (known: {', '.join(known)})")
                continue
            out[key] = (src.plain(vnode), vnode)
        return out

    def text(self, got: dict[str, tuple[Any, src.YNode]], key: str, at: src.YNode, what: str) -> str:
        if key not in got:
            self.add(at, f"{what}: {key} is missing")
            return ""
        value, node = got[key]
        if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
            self.add(node, f"{what}: {key} should be non-empty text, not {src.kind(node)}")
            return ""
        return str(value).strip()

    def points(self, got: dict[str, tuple[Any, src.YNode]], key: str, what: str, default: float) -> float:
        if key not in got:
            return default
        value, node = got[key]
        low = 0 if key != "weight" else 0.5
        if not _number(value) or not low <= value <= 100:
            self.add(node, f"{what}: {key} should be a number from {low:g} to 100, not {value!r}")
            return default
        return float(value)

    def entries(self, node: src.YNode | None, key: str, known: tuple[str, ...]) -> list[dict[str, Any]]:
        if node is None:
            return []
        if not src.is_seq(node):
            self.add(node, f"{key} should be a list, not {src.kind(node)}")
            return []
        out: list[dict[str, Any]] = []
        seen: dict[str, Pos] = {}
        for n, entry in enumerate(node.value, 1):
            what = f"{key} #{n}"
            if not src.is_map(entry):
                self.add(entry, f"{what} should be a mapping with id and name, not {src.kind(entry)}")
                continue
            got = self.fields(entry, known, what)
            ident = self.text(got, "id", entry, what)
            if ident and not _ID.match(ident):
                self.add(got["id"][1], f"{what}: id {ident!r} should be letters, digits, _ . - (40 at most)")
            elif ident in seen:
                self.add(got["id"][1], f"{what}: id {ident!r} is used already (line {seen[ident].line})")
            elif ident:
                seen[ident] = src.pos_of(got["id"][1])
            name = self.text(got, "name", entry, what)
            described = got.get("description", ("", entry))
            out.append({"id": ident, "name": name, "got": got, "what": what, "node": entry,
                        "description": str(described[0] or "")})  # fmt: skip
        return out


def load_checklist(path: Path) -> tuple[Checklist | None, list[Problem]]:
    """The checklist at `path`, or None with every problem found (file:line:col each)."""
    r = _Reader(path)
    root = src.parse(path, r.problems)
    if root is None:
        return None, r.problems
    if not src.is_map(root):
        r.add(root, f"a checklist is a mapping with name and items, not {src.kind(root)}")
        return None, r.problems
    top = r.fields(root, _TOP, "the checklist")
    name = r.text(top, "name", root, "the checklist")
    version = str(top["version"][0]) if "version" in top and top["version"][0] is not None else ""
    pass_score = r.points(top, "pass_score", "the checklist", 60.0)
    if "items" not in top:
        r.add(root, "the checklist: items is missing (a list of {id, name, weight})")
    items = []
    for e in r.entries(top.get("items", (None, None))[1], "items", _ITEM):
        if "weight" not in e["got"]:
            r.add(e["node"], f"{e['what']}: weight is missing (the item's points)")
        weight = r.points(e["got"], "weight", e["what"], 0.0)
        items.append(ChecklistItem(e["id"], e["name"], weight, e["description"]))
    if "items" in top and not items and src.is_seq(top["items"][1]):
        r.add(top["items"][1], "items is empty: a checklist needs at least one item")
    fatal = [
        FatalError(e["id"], e["name"], r.points(e["got"], "score", e["what"], 0.0), e["description"])
        for e in r.entries(top.get("fatal", (None, None))[1], "fatal", _FATAL)
    ]
    clash = {i.id for i in items} & {f.id for f in fatal}
    for ident in sorted(clash):
        r.add(top["fatal"][1], f"fatal: id {ident!r} is also an item's id")
    if r.problems:
        return None, r.problems
    return Checklist(name, version, tuple(items), tuple(fatal), pass_score), []
