"""The admins' understanding file (`flows/understanding.yaml`) -> a checked `Lexicon`.

Admins keep here the intents with example sentences and keywords, the urgent lexicon, keywords
for the ticket categories, the district names of the city and the two questions the line asks
when it is unsure. Reading never raises on bad content: each defect is a `Finding` that points at
`file:line:col`, as the flow checker's problems do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

INTENTS = ("咨询", "投诉", "求助", "建议", "表扬", "查询工单", "人工")
UNCLEAR = "unclear"
URGENT = "紧急"  # a menu option with `intent: 紧急` takes urgent callers, whatever they asked


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    col: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class Intent:
    name: str
    keywords: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    share: float = 1.0  # how common the intent is among calls, relative to the others (the prior)


@dataclass(frozen=True)
class Lexicon:
    intents: tuple[Intent, ...]
    urgent_words: tuple[str, ...] = ()
    urgent_together: tuple[tuple[tuple[str, ...], ...], ...] = ()  # every group needs a word
    urgent_unless: tuple[str, ...] = ()  # in the same clause: no present danger (隐患, 演练 ...)
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # path -> keywords
    category_lines: Mapping[str, int] = field(default_factory=dict)  # path -> line, for errors
    districts: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()  # neighbourhoods said without a suffix (回龙观, 五道口)
    accept: float = 0.55  # at or above: act on the intent
    confirm: float = 0.3  # at or above (and below accept): ask "您是要投诉，对吗？"
    confirm_prompt: str = "您是要{intent}，对吗？"
    clarify_prompt: str = "请问您是要咨询、投诉、求助、提建议，还是查询工单？请简单说一下。"
    file: str = ""

    @property
    def intent_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.intents)


_TOP = ("intents", "urgent", "categories", "districts", "areas", "thresholds", "prompts")


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.findings: list[Finding] = []

    def bad(self, node: yaml.Node, message: str) -> None:
        mark = node.start_mark
        self.findings.append(Finding(self.file, mark.line + 1, mark.column + 1, message))

    def items(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            self.bad(node, f"{what}: expected a mapping, got {node.tag.rsplit(':', 1)[-1]}")
            return []
        out: list[tuple[str, yaml.Node, yaml.Node]] = []
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode) or not str(k.value).strip():
                self.bad(k, f"{what}: keys must be text")
                continue
            out.append((str(k.value).strip(), k, v))
        return out

    def words(self, node: yaml.Node, what: str) -> tuple[str, ...]:
        values = node.value if isinstance(node, yaml.SequenceNode) else [node]
        out = []
        for v in values:
            if not isinstance(v, yaml.ScalarNode) or not str(v.value).strip():
                self.bad(v, f"{what}: expected a non-empty word or sentence")
                continue
            out.append(str(v.value).strip())
        return tuple(out)

    def number(self, node: yaml.Node, what: str, top: float = 1.0) -> float | None:
        try:
            value = float(node.value) if isinstance(node, yaml.ScalarNode) else -1.0
        except ValueError:
            value = -1.0
        if not 0.0 <= value <= top:
            self.bad(node, f"{what}: expected a number from 0 to {top:g}")
            return None
        return value


def parse(
    text: str, file: str, categories: Mapping[str, object] | None = None
) -> tuple[Lexicon | None, list[Finding]]:
    """The lexicon in `text`, and what is wrong with it. `categories` (paths "一级/二级/三级")
    checks that every category keyword list names a category of the taxonomy."""
    r = _Reader(file)
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return None, [Finding(file, line, col, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
    if root is None:
        return None, [Finding(file, 1, 1, "empty file: it needs intents:")]
    got: dict[str, object] = {"file": file}
    intents: list[Intent] = []
    for key, k, v in r.items(root, "the file"):
        if key not in _TOP:
            r.bad(k, f"unknown key {key!r}; one of {', '.join(_TOP)}")
        elif key == "intents":
            for name, nk, nv in r.items(v, "intents"):
                if name not in INTENTS:
                    r.bad(nk, f"unknown intent {name!r}; the line knows {'、'.join(INTENTS)}")
                    continue
                fields = {
                    f: r.words(fv, f"{name}.{f}")
                    for f, fk, fv in r.items(nv, name)
                    if f in ("keywords", "examples")
                }
                share = 1.0
                for f, fk, fv in r.items(nv, name):
                    if f == "share":
                        share = r.number(fv, f"{name}.share", top=10.0) or 1.0
                    elif f not in ("keywords", "examples"):
                        r.bad(fk, f"{name}: unknown field {f!r}; use keywords, examples and share")
                if not fields.get("keywords") and not fields.get("examples"):
                    r.bad(nk, f"intent {name} needs keywords or examples")
                intents.append(Intent(name, fields.get("keywords", ()), fields.get("examples", ()), share))
        elif key == "urgent":
            for f, fk, fv in r.items(v, "urgent"):
                if f == "words":
                    got["urgent_words"] = r.words(fv, "urgent.words")
                elif f == "unless":
                    got["urgent_unless"] = r.words(fv, "urgent.unless")
                elif f == "together":
                    groups = fv.value if isinstance(fv, yaml.SequenceNode) else []
                    if not isinstance(fv, yaml.SequenceNode):
                        r.bad(fv, "urgent.together: a list of [[words], [words] ...]")
                    rules = []
                    for g in groups:
                        parts = g.value if isinstance(g, yaml.SequenceNode) else []
                        if len(parts) < 2:
                            r.bad(g, "urgent.together: each entry is a list of two or more word groups")
                            continue
                        rules.append(tuple(r.words(p, "urgent.together") for p in parts))
                    got["urgent_together"] = tuple(rules)
                else:
                    r.bad(fk, f"urgent: unknown field {f!r}; use words, together, unless")
        elif key == "categories":
            cats: dict[str, tuple[str, ...]] = {}
            lines: dict[str, int] = {}
            for path, pk, pv in r.items(v, "categories"):
                if categories is not None and path not in categories:
                    r.bad(pk, f"category {path!r} is not in the taxonomy (一级/二级/三级)")
                    continue
                cats[path] = r.words(pv, path)
                lines[path] = pk.start_mark.line + 1
            got["categories"], got["category_lines"] = cats, lines
        elif key in ("districts", "areas"):
            got[key] = r.words(v, key)
        elif key == "thresholds":
            for f, fk, fv in r.items(v, "thresholds"):
                if f in ("accept", "confirm"):
                    if (n := r.number(fv, f"thresholds.{f}")) is not None:
                        got[f] = n
                else:
                    r.bad(fk, f"thresholds: unknown field {f!r}; use accept and confirm")
        elif key == "prompts":
            for f, fk, fv in r.items(v, "prompts"):
                if f in ("confirm", "clarify") and isinstance(fv, yaml.ScalarNode) and str(fv.value).strip():
                    got[f"{f}_prompt"] = str(fv.value).strip()
                else:
                    r.bad(fk, f"prompts: {f!r} must be confirm or clarify, with text")
    if not intents:
        r.bad(root, "the file needs intents: with keywords and examples")
    if float(got.get("confirm", 0.3)) > float(got.get("accept", 0.55)):  # type: ignore[arg-type]
        r.bad(root, "thresholds: confirm must not be above accept")
    if r.findings:
        return None, r.findings
    return Lexicon(intents=tuple(intents), **got), []  # type: ignore[arg-type]


def load(path: Path, categories: Mapping[str, object] | None = None) -> tuple[Lexicon | None, list[Finding]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [Finding(str(path), 1, 1, f"cannot read: {exc.strerror or exc}")]
    return parse(text, str(path), categories)
