"""`ivr flows graph FLOW`: the flow as a Mermaid flowchart (or Graphviz DOT) for review and docs."""

from __future__ import annotations

import json
import re

from ivr.flow import model as m

_SHAPES = {
    "menu": ("{", "}"),
    "input": ("[/", "/]"),
    "if": ("{", "}"),
    "switch": ("{", "}"),
    "hours": ("{", "}"),
}
_END = "__end__"


def _summary(node: m.Node) -> str:
    detail = node.label
    if not detail:
        match node:
            case m.Say() | m.Menu() | m.Input() | m.Hangup() if getattr(node, "prompt", ()):
                part = node.prompt[0]
                detail = part.text or part.wav or ""
            case m.Queue():
                detail = f"queue {node.queue}"
            case m.Call() | m.Goto() if node.flow:
                detail = f"flow {node.flow}"
            case m.Transfer():
                detail = node.number
            case m.SetVars():
                detail = ", ".join(node.values)
    detail = detail if len(detail) <= 24 else detail[:23] + "…"
    return f"{node.id} ({node.type})" + (f"<br/>{detail}" if detail else "")


def _mid(node_id: str) -> str:
    # Mermaid ids must be plain; node ids may be Chinese.
    return "n_" + re.sub(r"[^A-Za-z0-9_]", lambda c: f"u{ord(c.group()):x}", node_id)


def _quote(text: str) -> str:
    return text.replace('"', "#quot;")


def mermaid(flow: m.Flow) -> str:
    lines = ["flowchart TD", f'    {_END}(("end"))']
    for node in flow.nodes.values():
        a, b = _SHAPES.get(node.type, ("[", "]"))
        lines.append(f'    {_mid(node.id)}{a}"{_quote(_summary(node))}"{b}')
    for node in flow.nodes.values():
        for label, target in m.edges(flow, node):
            if target is not None and target not in flow.nodes:
                continue  # the checker reports it
            dest = _END if target is None else _mid(target)
            lines.append(f'    {_mid(node.id)} -->|"{_quote(label)}"| {dest}')
    lines.append(f"    style {_mid(flow.start)} stroke-width:3px")
    return "\n".join(lines) + "\n"


def dot(flow: m.Flow) -> str:
    shapes = {
        "menu": "diamond",
        "if": "diamond",
        "switch": "diamond",
        "hours": "diamond",
        "hangup": "doublecircle",
    }
    lines = [
        f"digraph {json.dumps(flow.name, ensure_ascii=False)} {{",
        "  rankdir=TB;",
        "  end [shape=point];",
    ]
    for node in flow.nodes.values():
        label = json.dumps(_summary(node).replace("<br/>", "\n"), ensure_ascii=False)
        shape = shapes.get(node.type, "box")
        lines.append(f"  {json.dumps(node.id, ensure_ascii=False)} [label={label}, shape={shape}];")
    for node in flow.nodes.values():
        for label, target in m.edges(flow, node):
            if target is not None and target not in flow.nodes:
                continue
            dest = "end" if target is None else json.dumps(target, ensure_ascii=False)
            edge = json.dumps(label, ensure_ascii=False)
            lines.append(f"  {json.dumps(node.id, ensure_ascii=False)} -> {dest} [label={edge}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
