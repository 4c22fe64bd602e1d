"""YAML with positions: parse once with PyYAML's composer and keep every node's mark.

Admins edit these files by hand, so nothing here raises: every defect becomes a `Problem` with
the line and column an editor shows (1-based).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from ivr.flow.model import Pos, Problem

YNode = yaml.Node


def pos_of(node: YNode | None) -> Pos:
    if node is None:
        return Pos()
    return Pos(node.start_mark.line + 1, node.start_mark.column + 1)


def parse(path: Path, problems: list[Problem], text: str | None = None) -> YNode | None:
    """Compose one YAML document; None (with a problem) on any read or syntax error."""
    file = str(path)
    if text is None:
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(
                Problem(file, Pos(), f"not UTF-8 text (byte {exc.start}); save the file as UTF-8")
            )
            return None
        except OSError as exc:
            problems.append(Problem(file, Pos(), f"cannot read: {exc.strerror or exc}"))
            return None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Pos(mark.line + 1, mark.column + 1) if mark else Pos()
        what = " ".join(x for x in (exc.context, exc.problem) if x) or "invalid YAML"
        start = exc.context_mark
        if start is not None and mark is not None and start.line != mark.line:
            # e.g. an unclosed quote is only noticed at the end of the file; name where it began
            what += f" (it started at line {start.line + 1}, column {start.column + 1})"
        hint = " (YAML forbids tabs for indentation; use spaces)" if "\\t" in what or "tab" in what else ""
        problems.append(Problem(file, pos, f"YAML syntax error: {what}{hint}"))
        return None
    except yaml.YAMLError as exc:
        problems.append(Problem(file, Pos(), f"YAML error: {exc}"))
        return None
    except RecursionError:
        problems.append(Problem(file, Pos(), "YAML nested too deeply"))
        return None
    if root is None:
        problems.append(Problem(file, Pos(), "the file is empty"))
    return root


_constructor = yaml.SafeLoader("")


def plain(node: YNode) -> Any:
    """The Python value of a node (str, int, float, bool, None, date, list, dict)."""
    try:
        return _constructor.construct_object(node, deep=True)
    except (yaml.YAMLError, RecursionError, TypeError, ValueError):
        return None
    finally:
        _constructor.constructed_objects.clear()
        _constructor.recursive_objects.clear()


def kind(node: YNode) -> str:
    """A word for error messages: mapping, list, text, number, true/false, nothing."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    value = plain(node)
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dt.date):
        return "a date"
    return "text"


def items(
    node: YNode, file: str, problems: list[Problem], flow: str | None = None
) -> Iterator[tuple[str, YNode, YNode]]:
    """(key, key node, value node) of a mapping; reports duplicate and non-text keys."""
    assert isinstance(node, yaml.MappingNode)
    seen: dict[str, Pos] = {}
    for knode, vnode in node.value:
        if knode.tag == "tag:yaml.org,2002:merge":
            problems.append(
                Problem(file, pos_of(knode), "YAML merge keys (<<) are not supported here", flow=flow)
            )
            continue
        # The raw text, not the YAML 1.1 value: `on:` must stay "on", not True; dates stay text.
        if not isinstance(knode, yaml.ScalarNode) or plain(knode) is None:
            problems.append(Problem(file, pos_of(knode), f"a key must be text, not {kind(knode)}", flow=flow))
            continue
        key = str(knode.value)
        if key in seen:
            first = seen[key]
            problems.append(
                Problem(file, pos_of(knode), f"duplicate key {key!r} (first at line {first.line})", flow=flow)
            )
            continue
        seen[key] = pos_of(knode)
        yield key, knode, vnode


def is_map(node: YNode | None) -> bool:
    return isinstance(node, yaml.MappingNode)


def is_seq(node: YNode | None) -> bool:
    return isinstance(node, yaml.SequenceNode)
