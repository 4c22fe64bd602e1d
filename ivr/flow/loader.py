"""YAML flow file -> `Flow`, validating every field against the schema table.

Never raises on bad input: each defect becomes a positioned `Problem`, and a flow is returned
whenever its nodes could be read (a node with errors is left out), so the checker can go on to
report graph problems in the same run.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from ivr.flow import model as m
from ivr.flow import source as src
from ivr.flow.conditions import Condition
from ivr.flow.model import Pos
from ivr.flow.phrases import Vocabulary, normalise, segment, tidy
from ivr.flow.rules import BAD as _BAD
from ivr.flow.rules import ConditionReader
from ivr.flow.schema import COMMON, DEFAULTS, FLOW, NODES, OPTION, F
from ivr.flow.template import stray_brace

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ID = re.compile(r"^[\w-]+$")
_KEY = re.compile(r"^[0-9*#]$")
FORMATS: dict[str, tuple[int, int, str | None]] = {  # min digits, max digits, pattern
    "digits": (1, 20, None),
    "phone": (7, 12, r"1\d{10}|0\d{9,11}|\d{7,8}"),
    "id_card": (18, 18, r"\d{17}[\dX]"),  # the final X is keyed as * (最后一位是X请按*号键)
    "ticket_no": (6, 16, r"\d{6,16}"),
    "speech": (0, 0, None),
}


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class FlowReader(ConditionReader):
    def __init__(self, path: Path, vocabulary: Vocabulary | None, audio_dirs: Sequence[Path]) -> None:
        super().__init__(str(path), path.stem)
        self.path = path
        self.vocabulary = vocabulary
        self.audio_dirs = [path.parent, *audio_dirs]
        self.defaults: dict[str, Any] = {}
        self.has_speech = False
        self.last_wav: Path | None = None

    # -- scalars and small shapes -------------------------------------------------------------
    def convert(self, f: F, y: src.YNode, nid: str | None) -> Any:
        kind = f.kind
        if kind in ("prompt", "prompts", "options", "condition", "vars", "fields", "skills", "outcomes"):
            return getattr(self, "_" + kind)(y, nid)
        if kind == "phrases":
            return self._phrases(y, nid)
        if kind == "cases":
            return y  # read once the node's `on` is known
        value = src.plain(y) if isinstance(y, yaml.ScalarNode) else _BAD
        if kind == "bool":
            if not isinstance(value, bool):
                return self.bad(y, nid, f"expected true or false, got {src.kind(y)}")
            return value
        if kind in ("int", "number"):
            ok = isinstance(value, int) if kind == "int" else isinstance(value, int | float)
            if not ok or isinstance(value, bool):
                return self.bad(
                    y, nid, f"expected {'a whole number' if kind == 'int' else 'a number'}, got {src.kind(y)}"
                )
            if value < 0:
                return self.bad(y, nid, "must not be negative")
            return value
        if value is _BAD or value is None or not isinstance(value, str | int | float | dt.date):
            return self.bad(y, nid, f"expected text, got {src.kind(y)}")
        # YAML 1.1 reads unquoted no/on/0123 as false/true/83; text fields keep what the admin typed.
        text = str(y.value)
        if kind.startswith("enum:"):
            allowed = kind[5:].split("|")
            if text not in allowed:
                return self.bad(
                    y, nid, f"{text!r} is not one of {', '.join(allowed)}{_suggest(text, allowed)}"
                )
        elif kind == "name" and not _NAME.match(text):
            return self.bad(y, nid, f"{text!r} is not a variable name (letters, digits, _)")
        elif kind == "key" and not _KEY.match(text):
            return self.bad(y, nid, f"DTMF key {text!r} must be one of 0-9, * or #")
        elif kind == "regex":
            try:
                re.compile(text)
            except re.error as exc:
                return self.bad(y, nid, f"invalid pattern {text!r}: {exc}")
        elif kind == "wav":
            self.last_wav = self._wav(text, y, nid)
        elif kind == "template" and stray_brace(text):
            self.warn(y, nid, f"unbalanced {{ or }} in {text!r} (use {{{{ and }}}} for literal braces)")
        return text

    def _vars(self, y: src.YNode, nid: str | None) -> Any:
        if not src.is_map(y):
            return self.bad(y, nid, f"expected a mapping of name: value, got {src.kind(y)}")
        out: dict[str, object] = {}
        for key, k, v in src.items(y, self.file, self.problems, self.flow_name):
            if not _NAME.match(key):
                self.bad(k, nid, f"{key!r} is not a variable name (letters, digits, _)")
            elif not isinstance(v, yaml.ScalarNode):
                self.bad(v, nid, f"{key}: expected a single value, got {src.kind(v)}")
            else:
                out[key] = src.plain(v)
        return out

    def _fields(self, y: src.YNode, nid: str | None) -> Any:
        got = self._vars(y, nid)
        return got if got is _BAD else {k: "" if v is None else str(v) for k, v in got.items()}

    def _skills(self, y: src.YNode, nid: str | None) -> Any:
        got = self._vars(y, nid)
        if got is _BAD:
            return got
        for k, v in got.items():
            if not isinstance(v, int) or isinstance(v, bool):
                return self.bad(y, nid, f"skill {k}: level must be a whole number")
        return got

    def _outcomes(self, y: src.YNode, nid: str | None) -> Any:
        if not src.is_map(y):
            return self.bad(y, nid, f"expected outcome: node, got {src.kind(y)}")
        out: dict[str, str] = {}
        for key, k, v in src.items(y, self.file, self.problems, self.flow_name):
            if key not in m.QUEUE_OUTCOMES:
                self.bad(k, nid, f"unknown queue outcome {key!r}{_suggest(key, m.QUEUE_OUTCOMES)}")
            elif (target := self.convert(F("target", ""), v, nid)) is not _BAD:
                out[key] = target
                self.marks[f"outcomes.{key}"] = src.pos_of(v)
        return out

    # -- prompts --------------------------------------------------------------------------------
    def _part(self, y: src.YNode, nid: str | None) -> m.PromptPart | None:
        if isinstance(y, yaml.ScalarNode):
            text = self.convert(F("template", ""), y, nid)
            if text is _BAD:
                return None
            if not str(text).strip():
                self.bad(y, nid, "empty prompt")
                return None
            return m.PromptPart(text=text)
        if not src.is_map(y):
            self.bad(y, nid, f"a prompt is text or {{text, wav}}, got {src.kind(y)}")
            return None
        text, wav, wav_path = "", None, None
        for key, k, v in src.items(y, self.file, self.problems, self.flow_name):
            if key == "text":
                got = self.convert(F("template", ""), v, nid)
                text = "" if got is _BAD else got
            elif key == "wav":
                got = self.convert(F("text", ""), v, nid)
                if got is not _BAD:
                    wav, wav_path = got, self._wav(got, v, nid)
            else:
                self.bad(k, nid, f"unknown prompt field {key!r}: use text and/or wav")
        if not text.strip() and wav is None:
            self.bad(y, nid, "empty prompt")
            return None
        return m.PromptPart(text=text, wav=wav, wav_path=wav_path)

    def _wav(self, name: str, y: src.YNode, nid: str | None) -> Path | None:
        for base in self.audio_dirs:
            p = (base / name).resolve()
            if p.is_file():
                return p
        self.bad(
            y, nid, f"missing WAV file {name!r} (looked in {', '.join(str(d) for d in self.audio_dirs)})"
        )
        return None

    def _prompt(self, y: src.YNode, nid: str | None) -> Any:
        ys = y.value if src.is_seq(y) else [y]
        if not ys:
            return self.bad(y, nid, "empty prompt")
        parts = [self._part(p, nid) for p in ys]
        return tuple(p for p in parts if p) if all(parts) else _BAD

    def _prompts(self, y: src.YNode, nid: str | None) -> Any:
        ys = y.value if src.is_seq(y) else [y]
        got = [self._prompt(p, nid) for p in ys]
        return _BAD if any(p is _BAD for p in got) else tuple(got)

    # -- options --------------------------------------------------------------------------------
    def _phrases(self, y: src.YNode, nid: str | None) -> Any:
        ys = y.value if src.is_seq(y) else [y]
        out: list[str] = []
        for p in ys:
            text = self.convert(F("text", ""), p, nid)
            if text is not _BAD and normalise(text):
                out.append(text)
            elif text is not _BAD:
                self.bad(p, nid, "empty speech phrase")
        return tuple(out)

    def _options(self, y: src.YNode, nid: str | None) -> Any:
        if not src.is_seq(y) or not y.value:
            return self.bad(y, nid, f"options must be a non-empty list, got {src.kind(y)}")
        opts = [self._option(o, nid) for o in y.value]
        return tuple(o for o in opts if o is not None)

    def _option(self, y: src.YNode, nid: str | None) -> m.Option | None:
        if not src.is_map(y):
            self.bad(y, nid, f"an option is a mapping (key, speech, next), got {src.kind(y)}")
            return None
        got: dict[str, Any] = {}
        for key, k, v in src.items(y, self.file, self.problems, self.flow_name):
            if key not in OPTION:
                self.bad(k, nid, f"unknown option field {key!r}{_suggest(key, list(OPTION))}")
            elif (value := self.convert(OPTION[key], v, nid)) is not _BAD:
                got[key] = value
            else:
                return None
        if "key" not in got and "speech" not in got and "intent" not in got:
            self.bad(y, nid, "option needs a key, speech phrases or an intent")
            return None
        if "next" not in got and not got.get("repeat"):
            self.bad(y, nid, "option needs next (the node to go to) or repeat: true")
            return None
        grammar: list[str] = []
        phrases = got.get("speech", ())
        self.has_speech = self.has_speech or bool(phrases)
        for phrase in phrases:
            if self.vocabulary is None:
                grammar.append(tidy(phrase))
                continue
            seg = segment(phrase, self.vocabulary)
            if seg.missing:
                self.warn(
                    y, nid, f"speech phrase {phrase!r}: the speech model lacks {'、'.join(seg.missing)}"
                )
            else:
                grammar.append(" ".join(seg.words))
        if phrases and not grammar and "key" not in got and "intent" not in got:
            self.bad(y, nid, "no phrase of this option is in the speech model's vocabulary and it has no key")
        return m.Option(
            key=got.get("key"),
            phrases=tuple(phrases),
            grammar=tuple(grammar),
            target=got.get("next"),
            set_vars=got.get("set", {}),
            repeat=bool(got.get("repeat", False)),
            pos=src.pos_of(y),
            intent=got.get("intent"),
        )

    def _cases(self, y: src.YNode, nid: str | None, by_value: bool) -> Any:
        cases: list[m.Case] = []
        if by_value:
            if not src.is_map(y):
                return self.bad(y, nid, f"with var:, cases is a mapping of value: node, got {src.kind(y)}")
            for key, _k, v in src.items(y, self.file, self.problems, self.flow_name):
                target = self.convert(F("target", ""), v, nid)
                if target is not _BAD:
                    cases.append(m.Case(target=target, value=key, pos=src.pos_of(v)))
            return tuple(cases)
        if not src.is_seq(y) or not y.value:
            return self.bad(
                y, nid, "cases: a list of {when: condition, next: node} (or use var: with a mapping)"
            )
        for item in y.value:
            if not src.is_map(item):
                self.bad(item, nid, f"a case is {{when: ..., next: ...}}, got {src.kind(item)}")
                continue
            got = self.fields(
                item, {"when": F("condition", "", True), "next": F("target", "", True)}, nid, "a case", False
            )
            if _BAD not in got.values():
                cases.append(m.Case(target=got["next"], when=got["when"], pos=src.pos_of(item)))
        return tuple(cases)

    def _condition(self, y: src.YNode, nid: str | None) -> Any:
        got: Condition | None = self.condition(y, nid)
        return _BAD if got is None else got

    # -- nodes ----------------------------------------------------------------------------------
    def fields(
        self, y: src.YNode, table: dict[str, F], nid: str | None, what: str, keep_marks: bool = True
    ) -> dict[str, Any]:
        got: dict[str, Any] = {}
        for key, k, v in src.items(y, self.file, self.problems, self.flow_name):
            if key not in table:
                self.bad(k, nid, f"unknown field {key!r} for {what}{_suggest(key, list(table))}")
                continue
            if keep_marks:
                self.marks[key] = src.pos_of(v)
            value = self.convert(table[key], v, nid)
            got[key] = value
        for key, f in table.items():
            if f.required and key not in got:
                self.bad(y, nid, f"{what} needs {key!r} ({f.doc})")
                got[key] = _BAD
        return got

    def node(self, nid: str, k: src.YNode, y: src.YNode) -> m.Node | None:
        if not _ID.match(nid):
            self.bad(k, nid, f"node id {nid!r} may only use letters, digits, _ and -")
        if not src.is_map(y):
            self.bad(y, nid, f"a node is a mapping with a type, got {src.kind(y)}")
            return None
        type_node = next((v for kk, v in y.value if src.plain(kk) == "type"), None)
        kind = src.plain(type_node) if type_node is not None else None
        if kind is None:
            self.bad(y, nid, f"node has no type; one of: {', '.join(NODES)}")
            return None
        if not isinstance(kind, str) or kind not in NODES:
            self.bad(type_node, nid, f"unknown node type {kind!r}{_suggest(str(kind), list(NODES))}")
            return None
        self.marks = {}
        errors = len([p for p in self.problems if p.severity == "error"])
        got = self.fields(y, {**COMMON, **NODES[kind]}, nid, f"a {kind} node")
        if kind in ("say", "play"):
            got["wav_path"] = self.last_wav if "wav" in got else None
            if not str(got.get("text", "")).strip() and "wav" not in got:
                self.bad(y, nid, "empty prompt: give text or wav")
        if kind == "switch" and isinstance(got.get("cases"), yaml.Node):
            got["cases"] = self._cases(got["cases"], nid, by_value="var" in got)
        if kind in ("menu", "input"):
            for key, value in self.defaults.items():
                if key in NODES[kind]:
                    got.setdefault(key, value)
        if len([p for p in self.problems if p.severity == "error"]) > errors or _BAD in got.values():
            return None
        return build(kind, nid, src.pos_of(k), got, self.marks)

    def flow(self, root: src.YNode | None) -> m.Flow | None:
        if root is None:
            return None
        if not src.is_map(root):
            self.bad(root, None, f"a flow file is a mapping with nodes:, got {src.kind(root)}")
            return None
        self.marks = {}
        top: dict[str, src.YNode] = {}
        for key, k, v in src.items(root, self.file, self.problems, self.flow_name):
            if key not in FLOW:
                self.bad(k, None, f"unknown top-level key {key!r}{_suggest(key, list(FLOW))}")
            else:
                top[key] = v
        if "defaults" in top:
            d = (
                self.fields(top["defaults"], DEFAULTS, None, "defaults")
                if src.is_map(top["defaults"])
                else {}
            )
            self.defaults = {k: v for k, v in d.items() if v is not _BAD}
        y_nodes = top.get("nodes")
        if y_nodes is None or not src.is_map(y_nodes) or not y_nodes.value:
            self.bad(y_nodes or root, None, "the flow needs nodes: a mapping of node id -> node")
            return None
        nodes: dict[str, m.Node] = {}
        for nid, k, v in src.items(y_nodes, self.file, self.problems, self.flow_name):
            node = self.node(nid, k, v)
            if node is not None:
                nodes[nid] = node
            else:  # keep its id so references to it are not also reported as missing
                nodes[nid] = m.Hangup(id=nid, pos=src.pos_of(k), next=None, label="(invalid)")
        start = src.plain(top["start"]) if "start" in top else next(iter(nodes))
        if str(start) not in nodes:
            self.bad(
                top["start"], None, f"start node {start!r} does not exist{_suggest(str(start), list(nodes))}"
            )
        glob = self._options(top["global_options"], None) if "global_options" in top else ()
        variables = self._vars(top["vars"], None) if "vars" in top else {}
        text = {k: src.plain(top[k]) for k in ("description", "calendar") if k in top}
        return m.Flow(
            name=self.flow_name or "",
            file=self.file,
            nodes=nodes,
            start=str(start),
            description=str(text.get("description") or ""),
            calendar=str(text["calendar"]) if text.get("calendar") else None,
            variables={} if variables is _BAD else variables,
            global_options=() if glob is _BAD else glob,
        )


def build(kind: str, nid: str, pos: Pos, got: dict[str, Any], marks: dict[str, Pos]) -> m.Node:
    """Typed node from validated field values (YAML names mapped to dataclass fields)."""
    common = {
        "id": nid,
        "pos": pos,
        "next": got.pop("next", None),
        "label": got.pop("label", ""),
        "marks": marks,
    }
    got.pop("type", None)
    if kind in ("say", "play"):
        part = m.PromptPart(text=got.get("text", ""), wav=got.get("wav"), wav_path=got.get("wav_path"))
        return m.Say(**common, prompt=(part,), barge_in=got.get("barge_in", False))
    if kind == "menu":
        limit = got.get("max_failures", 3)
        got.setdefault("max_noinput", limit)
        got.setdefault("max_nomatch", limit)
    if kind == "input":
        lo, hi, pattern = FORMATS[got.get("format", "digits")]
        got.setdefault("min_digits", lo)
        got.setdefault("max_digits", hi)
        if pattern and "pattern" not in got:
            got["pattern"] = pattern
    renames = {"else": "otherwise", "set": "values"}
    if kind == "set":
        renames = {}
    cls = m.NODE_CLASSES[kind]
    return cls(**common, **{renames.get(k, k): v for k, v in got.items()})
