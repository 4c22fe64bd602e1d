"""`ivr flows check`: load flow files and find what would hurt a caller before any call does.

Per file: schema problems from the loader. Across the set: missing targets, unknown flows and
queues, duplicate keys, unreachable nodes, loops without an exit, calendars, unknown variables.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

import yaml

from ivr.flow import calendar as cal
from ivr.flow import model as m
from ivr.flow import source as src
from ivr.flow.conditions import Condition, queues_in, uses_calendar
from ivr.flow.loader import FlowReader
from ivr.flow.model import Flow, FlowSet, Pos, Problem
from ivr.flow.phrases import Vocabulary, normalise
from ivr.flow.template import names

BUILTIN_VARS = {"caller", "dialled", "call_id", "time", "date", "weekday", "holiday", "value", "queue"}
BUILTIN_VARS |= {
    "queue_outcome",
    "failed_menu",
    "failed_input",
    "last_menu",
    "ticket_error",
    "transferred_to",
}
# what a menu with intent options sets when the understanding step reads the caller's words
UNDERSTOOD_VARS = ("intent", "said", "urgency", "hot_spot")
_QUIET = (m.SetVars, m.If, m.Switch, m.Goto, m.Call)  # nodes that neither speak nor listen


def load_file(
    path: Path,
    *,
    vocabulary: Vocabulary | None = None,
    audio_dirs: Sequence[Path] = (),
    text: str | None = None,
) -> tuple[Flow | None, list[Problem]]:
    """Read one flow file; never raises."""
    reader = FlowReader(path, vocabulary, audio_dirs)
    try:
        flow = reader.flow(src.parse(path, reader.problems, text))
    except RecursionError:
        reader.problems.append(Problem(str(path), Pos(), "the file is nested too deeply", flow=path.stem))
        flow = None
    if flow is not None and reader.has_speech and vocabulary is None:
        reader.problems.append(
            Problem(
                str(path),
                Pos(),
                "no speech model loaded: phrases were not checked against a vocabulary",
                "note",
            )
        )
        reader.problems += _speech_only(flow)
    return flow, reader.problems


def _speech_only(flow: Flow) -> list[Problem]:
    """Without a speech model, an option with phrases and no key cannot be chosen at all."""
    menus = [(n.id, n.options) for n in flow.nodes.values() if isinstance(n, m.Menu)]
    found = []
    for node, options in [(None, flow.global_options), *menus]:
        for opt in options:
            if opt.key is None and opt.phrases and opt.target is not None:
                msg = (
                    f"option to {opt.target!r} has phrases but no key, and no speech model is "
                    "loaded: callers cannot choose it; give it a key"
                )
                found.append(Problem(flow.file, opt.pos, msg, "warning", node, flow.name))
    return found


def load_calendar(path: Path) -> tuple[cal.Calendar | None, str | None]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cal.from_data(raw, str(path)), None
    except FileNotFoundError:
        return None, f"calendar file {str(path)!r} not found"
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError) as exc:
        return None, f"calendar {path.name}: {exc}"


def _close(word: str, choices: Iterable[str]) -> str:
    got = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {got[0]!r}?)" if got else ""


class SetChecker:
    def __init__(self, flows: Mapping[str, Flow], queues: Collection[str] | None) -> None:
        self.flows = flows
        self.queues = queues
        self.problems: list[Problem] = []
        self.calendars: dict[str, cal.Calendar] = {}
        self.known_vars = set(BUILTIN_VARS)
        for flow in flows.values():
            self.known_vars.update(flow.variables)
            for node in flow.nodes.values():
                self.known_vars.update(_sets(node))
                if isinstance(node, m.Menu) and any(o.intent for o in node.options):
                    self.known_vars.update(UNDERSTOOD_VARS)
            for opt in flow.global_options:
                self.known_vars.update(opt.set_vars)

    def report(
        self, flow: Flow, pos: Pos, node: str | None, msg: str, severity: m.Severity = "error"
    ) -> None:
        self.problems.append(Problem(flow.file, pos, msg, severity, node, flow.name))

    def run(self) -> list[Problem]:
        for flow in self.flows.values():
            self.check_flow(flow)
        self.check_calls()
        return self.problems

    def check_flow(self, flow: Flow) -> None:
        for opt in flow.global_options:
            if opt.target is not None and opt.target not in flow.nodes:
                self.report(
                    flow, opt.pos, None, f"missing target {opt.target!r}{_close(opt.target, flow.nodes)}"
                )
        for node in flow.nodes.values():
            self.check_targets(flow, node)
            self.check_node(flow, node)
            self.check_templates(flow, node)
        self.check_graph(flow)

    def check_targets(self, flow: Flow, node: m.Node) -> None:
        options = {id(o): o for o in getattr(node, "options", ())}
        for label, target in m.edges(flow, node):
            if target is None or target in flow.nodes:
                continue
            opt = next((o for o in options.values() if o.target == target), None)
            field = {"then": "then", "else": "else", "failure": "on_failure", "failed": "on_fail"}.get(
                label, label
            )
            pos = (
                opt.pos
                if opt
                else node.marks.get(
                    field, node.marks.get(f"outcomes.{label}", node.marks.get("next", node.pos))
                )
            )
            self.report(flow, pos, node.id, f"missing target {target!r}{_close(target, flow.nodes)}")
        if (
            isinstance(node, m.Menu)
            and node.on_failure is None
            and node.next is None
            and flow.after(node.id) is None
        ):
            self.report(
                flow, node.pos, node.id, "no on_failure: after repeated failures the call ends", "warning"
            )

    def check_node(self, flow: Flow, node: m.Node) -> None:
        here = node.pos
        if isinstance(node, m.Call | m.Goto) and node.flow and node.flow not in self.flows:
            where = node.marks.get("flow", here)
            self.report(flow, where, node.id, f"unknown flow {node.flow!r}{_close(node.flow, self.flows)}")
        if isinstance(node, m.Goto) and not node.flow and not node.next:
            self.report(flow, here, node.id, "goto needs next (a node) or flow (another flow)")
        queues: list[str] = []
        if isinstance(node, m.Queue):
            queues.append(node.queue)
        if isinstance(node, m.If) and node.when:
            queues += queues_in(node.when)
        if isinstance(node, m.Switch):
            queues += [q for c in node.cases if c.when for q in queues_in(c.when)]
        for q in queues:
            if self.queues is not None and q not in self.queues:
                where = node.marks.get("queue", here)
                self.report(flow, where, node.id, f"queue {q!r} is not in config{_close(q, self.queues)}")
        if isinstance(node, m.Menu):
            self.check_menu(flow, node)
        needs_cal = isinstance(node, m.Hours) or any(
            uses_calendar(c) for c in _conditions(node) if c is not None
        )
        if needs_cal:
            self.check_calendar(flow, node)

    def check_menu(self, flow: Flow, node: m.Menu) -> None:
        keys: dict[str, m.Option] = {}
        phrases: dict[str, m.Option] = {}
        intents: dict[str, m.Option] = {}
        for opt in node.options:
            if opt.intent is not None:
                if opt.intent in intents:
                    first = intents[opt.intent].pos.line
                    self.report(
                        flow, opt.pos, node.id, f"duplicate intent {opt.intent!r} (first at line {first})"
                    )
                intents.setdefault(opt.intent, opt)
            if opt.key is not None:
                if opt.key in keys:
                    first = keys[opt.key].pos.line
                    self.report(
                        flow, opt.pos, node.id, f"duplicate DTMF key {opt.key!r} (first at line {first})"
                    )
                keys.setdefault(opt.key, opt)
            for p in opt.phrases:
                n = normalise(p)
                if n in phrases and phrases[n] is not opt:
                    first = phrases[n].pos.line
                    self.report(
                        flow, opt.pos, node.id, f"duplicate speech phrase {p!r} (first at line {first})"
                    )
                phrases.setdefault(n, opt)
        if node.global_options:
            for g in flow.global_options:
                if g.key is not None and g.key in keys:
                    self.report(
                        flow,
                        keys[g.key].pos,
                        node.id,
                        f"key {g.key!r} hides the global option at line {g.pos.line}",
                        "warning",
                    )

    def check_calendar(self, flow: Flow, node: m.Node) -> None:
        name = node.calendar if isinstance(node, m.Hours) else None
        path = FlowSet({}).calendar_path(flow, name)
        if path is None:
            self.report(flow, node.pos, node.id, "needs a calendar: set calendar: on the flow or the node")
            return
        if path in self.calendars:
            return
        got, err = load_calendar(Path(path))
        if got is None:
            self.report(flow, node.marks.get("calendar", node.pos), node.id, err or "bad calendar")
        else:
            self.calendars[path] = got

    def check_templates(self, flow: Flow, node: m.Node) -> None:
        texts = [p.text for p in _prompt_parts(node)]
        if isinstance(node, m.Ticket):
            texts += list(node.fields.values())
        if isinstance(node, m.SetVars):
            texts += [v for v in node.values.values() if isinstance(v, str)]
        if isinstance(node, m.Transfer | m.TicketStatus):
            texts.append(node.number if isinstance(node, m.Transfer) else node.ticket)
        for text in texts:
            for name in names(text):
                if name.split(".")[0] not in self.known_vars:
                    hint = _close(name, self.known_vars)
                    msg = f"{{{name}}} is never set by any node (it will be empty){hint}"
                    self.report(flow, node.pos, node.id, msg, "warning")

    def check_graph(self, flow: Flow) -> None:
        graph = {n.id: [t for _, t in m.edges(flow, n)] for n in flow.nodes.values()}
        seen: set[str] = set()
        todo = [flow.start] if flow.start in flow.nodes else []
        while todo:
            nid = todo.pop()
            if nid in seen:
                continue
            seen.add(nid)
            todo += [t for t in graph[nid] if t is not None and t in flow.nodes]
        # With an invalid node its exits are unknown, so "unreachable" would only be noise.
        complete = not any(n.label == "(invalid)" for n in flow.nodes.values())
        for nid, node in flow.nodes.items():
            if complete and nid not in seen:
                self.report(flow, node.pos, nid, "unreachable: no path from the start leads here", "warning")
        for scc in _components(graph):
            loops = len(scc) > 1 or scc[0] in graph[scc[0]]
            if not loops or not set(scc) <= seen:
                continue
            exits = [t for n in scc for t in graph[n] if t is None or t not in scc]
            first = min(scc, key=lambda n: flow.nodes[n].pos)
            ring = " -> ".join(sorted(scc, key=lambda n: flow.nodes[n].pos))
            if not exits:
                self.report(flow, flow.nodes[first].pos, first, f"loop without an exit: {ring}")
            elif all(isinstance(flow.nodes[n], _QUIET) for n in scc):
                msg = f"loop with no prompt or input may spin forever: {ring}"
                self.report(flow, flow.nodes[first].pos, first, msg, "warning")

    def check_calls(self) -> None:
        calls = {
            f.name: {n.flow for n in f.nodes.values() if isinstance(n, m.Call) and n.flow in self.flows}
            for f in self.flows.values()
        }
        for scc in _components({k: list(v) for k, v in calls.items()}):
            if len(scc) > 1 or scc[0] in calls[scc[0]]:
                flow = self.flows[scc[0]]
                node = next(n for n in flow.nodes.values() if isinstance(n, m.Call) and n.flow in scc)
                self.report(
                    flow, node.pos, node.id, f"sub-flows call each other in a circle: {' -> '.join(scc)}"
                )


def _sets(node: m.Node) -> set[str]:
    out: set[str] = set()
    if isinstance(node, m.SetVars):
        out.update(node.values)
    if isinstance(node, m.Input | m.Record | m.Ticket | m.TicketStatus):
        out.add(node.var)
    if isinstance(node, m.Record):
        out.add(f"{node.var}_seconds")
    for opt in getattr(node, "options", ()):
        out.update(opt.set_vars)
    return out


def _conditions(node: m.Node) -> list[Condition | None]:
    if isinstance(node, m.If):
        return [node.when]
    if isinstance(node, m.Switch):
        return [c.when for c in node.cases]
    return []


def _prompt_parts(node: m.Node) -> list[m.PromptPart]:
    parts: list[m.PromptPart] = []
    for name in ("prompt", "reprompt", "confirm"):
        parts += getattr(node, name, ())
    for name in ("noinput", "nomatch"):
        for prompt in getattr(node, name, ()):
            parts += prompt
    return parts


def _components(graph: Mapping[str, list[str | None]]) -> list[list[str]]:
    """Strongly connected components (iterative Tarjan, so deep flows cannot overflow the stack)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = len(index)
                stack.append(v)
                on_stack.add(v)
            succ = [t for t in graph.get(v, []) if t is not None and t in graph]
            if i < len(succ):
                work.append((v, i + 1))
                w = succ[i]
                if w not in index:
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            for w in succ:
                if w in on_stack:
                    low[v] = min(low[v], low[w])
            if low[v] == index[v]:
                comp: list[str] = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
    return out


def check_set(
    flows: Mapping[str, Flow], queues: Collection[str] | None = None
) -> tuple[dict[str, cal.Calendar], list[Problem]]:
    """Cross-file checks; returns the calendars the flows use and the problems found."""
    checker = SetChecker(flows, queues)
    problems = checker.run()
    return checker.calendars, problems
