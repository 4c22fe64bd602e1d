"""Typed flow model: what the loader builds from YAML and the interpreter runs.

Every node and every option keeps the position it came from, so the checker can point an admin
at `file:line:col` and the interpreter's path can be traced back to the YAML.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ivr.flow.calendar import Calendar
from ivr.flow.conditions import Condition
from ivr.understanding import Understander

Severity = Literal["error", "warning", "note"]


@dataclass(frozen=True, order=True)
class Pos:
    line: int = 1  # 1-based, as editors show them
    col: int = 1


@dataclass(frozen=True)
class Problem:
    """One checker finding; `str()` gives the `file:line:col: severity: [node] message` form."""

    file: str
    pos: Pos
    message: str
    severity: Severity = "error"
    node: str | None = None
    flow: str | None = None

    def __str__(self) -> str:
        where = f"[{self.node}] " if self.node else ""
        return f"{self.file}:{self.pos.line}:{self.pos.col}: {self.severity}: {where}{self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.pos.line,
            "col": self.pos.col,
            "severity": self.severity,
            "flow": self.flow,
            "node": self.node,
            "message": self.message,
        }


@dataclass(frozen=True)
class PromptPart:
    """TTS text, a WAV, or both (the text is spoken when the WAV cannot be played)."""

    text: str = ""
    wav: str | None = None  # as written in the YAML
    wav_path: Path | None = None  # resolved against the flow's folder and the audio folder


Prompt = tuple[PromptPart, ...]


@dataclass(frozen=True)
class Option:
    key: str | None  # one DTMF key
    phrases: tuple[str, ...]  # plain Chinese as written
    grammar: tuple[str, ...]  # vocabulary-segmented phrases ("人工 服务"); raw text with no model
    target: str | None
    set_vars: Mapping[str, object] = field(default_factory=dict)
    repeat: bool = False  # replay the menu prompt (按*键重听)
    pos: Pos = Pos()
    intent: str | None = None  # chosen when the understanding step finds this intent (or 紧急)


@dataclass(frozen=True)
class Node:
    id: str
    pos: Pos
    next: str | None  # None: fall through to the following node, or end of the flow
    label: str = ""
    marks: Mapping[str, Pos] = field(default_factory=dict, compare=False)  # field name -> position

    @property
    def type(self) -> str:
        return NODE_TYPES_BY_CLASS[type(self)]


@dataclass(frozen=True)
class Say(Node):
    prompt: Prompt = ()
    barge_in: bool = False


@dataclass(frozen=True)
class Menu(Node):
    prompt: Prompt = ()
    reprompt: Prompt = ()  # played on retries ("greet-short"); empty: the prompt again
    noinput: tuple[Prompt, ...] = ()  # escalating: the n-th no-input plays noinput[n-1] (last repeats)
    nomatch: tuple[Prompt, ...] = ()
    options: tuple[Option, ...] = ()
    max_noinput: int = 3
    max_nomatch: int = 3
    max_failures: int = 3  # no-input plus no-match
    on_failure: str | None = None
    timeout: float = 5.0
    barge_in: bool = True
    min_confidence: float = 0.0
    global_options: bool = True


InputFormat = Literal["digits", "phone", "id_card", "ticket_no", "speech"]


@dataclass(frozen=True)
class Input(Node):
    var: str = ""
    format: InputFormat = "digits"
    prompt: Prompt = ()
    reprompt: Prompt = ()
    noinput: tuple[Prompt, ...] = ()
    nomatch: tuple[Prompt, ...] = ()  # played when the value fails the pattern
    min_digits: int = 1
    max_digits: int = 20
    terminator: str | None = "#"
    pattern: str | None = None
    confirm: Prompt = ()  # e.g. "您输入的是{value}，确认请按1，重新输入请按2"
    max_failures: int = 3
    on_failure: str | None = None
    timeout: float = 5.0
    inter_timeout: float = 3.0
    barge_in: bool = True


@dataclass(frozen=True)
class SetVars(Node):
    values: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class If(Node):
    when: Condition | None = None
    then: str | None = None
    otherwise: str | None = None  # YAML `else`; None: fall through


@dataclass(frozen=True)
class Case:
    target: str
    when: Condition | None = None  # condition cases
    value: str | None = None  # value cases (`var: name`)
    pos: Pos = Pos()


@dataclass(frozen=True)
class Switch(Node):
    var: str | None = None  # variable compared with each case's value
    cases: tuple[Case, ...] = ()
    default: str | None = None


@dataclass(frozen=True)
class Goto(Node):
    flow: str | None = None  # jump into another flow for good (no return)


@dataclass(frozen=True)
class Call(Node):
    flow: str = ""


@dataclass(frozen=True)
class Return(Node):
    pass


@dataclass(frozen=True)
class Hours(Node):
    calendar: str | None = None  # a calendar file; None: the flow's calendar
    open: str | None = None
    closed: str | None = None
    holiday: str | None = None  # None: treated as closed


QUEUE_OUTCOMES = ("completed", "operator_hangup", "timeout", "full", "no_agents", "callback", "error")


@dataclass(frozen=True)
class Queue(Node):
    queue: str = ""
    priority: int = 0
    skills: Mapping[str, int] = field(default_factory=dict)
    prompt: Prompt = ()  # played just before joining ("您前面还有{queue.waiting}位")
    outcomes: Mapping[str, str] = field(default_factory=dict)  # QueueResult.outcome -> target


@dataclass(frozen=True)
class Transfer(Node):
    number: str = ""
    prompt: Prompt = ()
    on_fail: str | None = None


@dataclass(frozen=True)
class Record(Node):
    prompt: Prompt = ()
    var: str = "recording"
    max_seconds: float = 120.0
    silence_seconds: float = 5.0
    on_empty: str | None = None


@dataclass(frozen=True)
class Ticket(Node):
    fields: Mapping[str, str] = field(default_factory=dict)  # templates
    var: str = "ticket_id"
    on_error: str | None = None


@dataclass(frozen=True)
class TicketStatus(Node):
    ticket: str = ""  # template, usually "{ticket_no}"
    var: str = "ticket_status"
    not_found: str | None = None


@dataclass(frozen=True)
class Hangup(Node):
    prompt: Prompt = ()


NODE_CLASSES: dict[str, type[Node]] = {
    "say": Say,
    "play": Say,
    "menu": Menu,
    "input": Input,
    "set": SetVars,
    "if": If,
    "switch": Switch,
    "goto": Goto,
    "call": Call,
    "return": Return,
    "hours": Hours,
    "queue": Queue,
    "transfer": Transfer,
    "record": Record,
    "ticket": Ticket,
    "ticket_status": TicketStatus,
    "hangup": Hangup,
}
NODE_TYPES_BY_CLASS: dict[type[Node], str] = {}
for _name, _cls in NODE_CLASSES.items():
    NODE_TYPES_BY_CLASS.setdefault(_cls, _name)

# Nodes after which control never falls through to the following node.
TERMINAL = (Hangup, Return, Goto)


@dataclass(frozen=True)
class Flow:
    name: str
    file: str
    nodes: Mapping[str, Node]  # in file order
    start: str
    description: str = ""
    calendar: str | None = None
    variables: Mapping[str, object] = field(default_factory=dict)
    global_options: tuple[Option, ...] = ()

    def after(self, node_id: str) -> str | None:
        """The node that `node_id` falls through to, or None at the end of the flow."""
        ids = list(self.nodes)
        i = ids.index(node_id)
        return ids[i + 1] if i + 1 < len(ids) else None


Edge = tuple[str, str | None]  # (label, target node id; None means "leaves the flow")


def edges(flow: Flow, node: Node) -> Iterator[Edge]:
    """Every way control can leave `node`, labelled for graphs and the checker."""
    fall = flow.after(node.id)

    def nxt() -> Edge:
        return ("next", node.next or fall)

    match node:
        case Menu():
            opts = list(node.options) + (list(flow.global_options) if node.global_options else [])
            for opt in opts:
                if opt.repeat:
                    continue
                label = opt.key or (opt.phrases[0] if opt.phrases else f"intent {opt.intent}")
                yield (label, opt.target)
            yield ("failure", node.on_failure or node.next or fall)
        case Input():
            yield nxt()
            yield ("failure", node.on_failure or node.next or fall)
        case If():
            yield ("then", node.then)
            yield ("else", node.otherwise or node.next or fall)
        case Switch():
            for case in node.cases:
                yield (case.value if case.value is not None else "case", case.target)
            yield ("default", node.default or node.next or fall)
        case Hours():
            yield ("open", node.open or node.next or fall)
            yield ("closed", node.closed or node.next or fall)
            if node.holiday:
                yield ("holiday", node.holiday)
        case Queue():
            default = node.next or fall
            for outcome in QUEUE_OUTCOMES:
                target = node.outcomes.get(outcome, default)
                yield (outcome, target)
        case Transfer():
            yield ("transferred", None)
            yield ("failed", node.on_fail or node.next or fall)
        case Record():
            yield nxt()
            if node.on_empty:
                yield ("empty", node.on_empty)
        case Ticket():
            yield nxt()
            if node.on_error:
                yield ("error", node.on_error)
        case TicketStatus():
            yield ("found", node.next or fall)
            yield ("not_found", node.not_found or node.next or fall)
        case Goto():
            yield ("goto", None if node.flow else node.next)
        case Hangup() | Return():
            return
        case _:
            yield nxt()


@dataclass(frozen=True)
class FlowSet:
    """An immutable, checked snapshot of every flow; a call keeps the one it started with."""

    flows: Mapping[str, Flow]
    calendars: Mapping[str, Calendar] = field(default_factory=dict)  # resolved path -> calendar
    version: int = 0
    understanding: Understander | None = None  # from flows/understanding.yaml, versioned with the flows

    def calendar_path(self, flow: Flow, name: str | None) -> str | None:
        name = name or flow.calendar
        return None if name is None else str((Path(flow.file).parent / name).resolve())

    def calendar_for(self, flow: Flow, name: str | None = None) -> Calendar | None:
        path = self.calendar_path(flow, name)
        return None if path is None else self.calendars.get(path)
