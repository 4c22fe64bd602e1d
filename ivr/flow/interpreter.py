"""Runs a flow against a `CallControl`, recording the path, the variables and the transcript.

A call runs on the `FlowSet` snapshot it started with, so a hot reload never changes a flow
under a caller. Nothing a caller does raises out of `run`: hang-ups, transfers and internal
errors all end in a `FlowResult`.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ivr.control import CallControl, CallerHangup, Heard, Prompt
from ivr.flow import model as m
from ivr.flow.calendar import CHINA
from ivr.flow.conditions import Facts, evaluate
from ivr.flow.menus import ask_input, ask_menu
from ivr.flow.services import FlowServices
from ivr.flow.template import render
from ivr.records import CallContext, QueueRequest, QueueResult, Understanding, category_path, urgency_for
from ivr.understanding import Understander

log = logging.getLogger("ivr.flow")
Outcome = Literal["hangup", "caller_hangup", "transferred", "error"]
WEEKDAYS = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")


@dataclass(frozen=True)
class Step:
    flow: str
    node: str

    def __str__(self) -> str:
        return f"{self.flow}:{self.node}"


@dataclass(frozen=True)
class Utterance:
    who: Literal["ivr", "caller"]
    text: str
    step: Step
    kind: str = "speech"  # ivr: prompt; caller: dtmf, speech, noinput


@dataclass
class FlowResult:
    outcome: Outcome
    path: list[Step] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    transcript: list[Utterance] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)
    queue: QueueResult | None = None
    error: str | None = None

    @property
    def route(self) -> list[str]:
        """The path as "flow:node" strings (for logs, CDRs and the screen pop)."""
        return [str(s) for s in self.path]


class _Stop(Exception):
    def __init__(self, outcome: Outcome, error: str | None = None) -> None:
        super().__init__(outcome)
        self.outcome: Outcome = outcome
        self.error = error


class Interpreter:
    def __init__(self, flows: m.FlowSet, control: CallControl, services: FlowServices | None = None) -> None:
        self.flows = flows
        self.control = control
        self.services = services or FlowServices()
        self.result = FlowResult(outcome="hangup")
        self.vars: dict[str, Any] = {}
        self.pending_key: str | None = None  # a key pressed during a barge-in prompt, for the next menu
        self.quiet = 0
        self.step = Step("", "")
        self.entry = ""  # the flow the call started in
        self.flow: m.Flow | None = None
        self.caller_gone = False  # hung up during a recording: only silent nodes (ticket, set ...) still run
        self.understanding: Understanding | None = (
            None  # the last thing the caller's words were taken to mean
        )

    async def run(self, entry: str) -> FlowResult:
        self.entry = entry
        try:
            await self._run_flow(entry, 0)
            await self.control.hangup()  # the end of the entry flow ends the call
        except CallerHangup:
            self.result.outcome = "caller_hangup"
        except _Stop as stop:
            self.result.outcome, self.result.error = stop.outcome, stop.error
            if stop.outcome == "error":
                await self._hangup_quietly()
        except Exception as exc:  # a bug or a failing service must not leave the caller in silence
            log.exception("flow %s failed at %s", entry, self.step)
            self.result.outcome, self.result.error = "error", f"{type(exc).__name__}: {exc}"
            await self._hangup_quietly()
        self.result.variables = dict(self.vars)
        return self.result

    async def _hangup_quietly(self) -> None:
        try:
            await self.control.hangup()
        except Exception:  # the leg may already be gone
            log.debug("hangup after error failed", exc_info=True)

    # -- the walk -------------------------------------------------------------------------------
    async def _run_flow(self, name: str, depth: int) -> None:
        if depth > self.services.max_depth:
            raise _Stop("error", f"sub-flows nested deeper than {self.services.max_depth}")
        flow = self.flows.flows.get(name)
        if flow is None:
            raise _Stop("error", f"no flow named {name!r}")
        for key, value in flow.variables.items():
            self.vars.setdefault(key, value)
        node_id: str | None = flow.start
        while node_id is not None:
            node = flow.nodes[node_id]
            self.flow, self.step = flow, Step(flow.name, node.id)
            self.result.path.append(self.step)
            self.quiet += 1
            if self.quiet > self.services.max_quiet_steps:
                raise _Stop(
                    "error", f"{self.services.max_quiet_steps} steps without the caller: loop at {self.step}"
                )
            if self.caller_gone and isinstance(node, _FACING):
                raise CallerHangup()
            if isinstance(node, m.Return):
                return
            if isinstance(node, m.Call):
                await self._run_flow(node.flow, depth + 1)
                self.flow = flow
                node_id = node.next or flow.after(node.id)
                continue
            if isinstance(node, m.Goto) and node.flow:
                flow = self.flows.flows.get(node.flow) or flow
                if flow.name != node.flow:
                    raise _Stop("error", f"no flow named {node.flow!r}")
                node_id = flow.start
                continue
            node_id = await self._node(flow, node)

    async def _node(self, flow: m.Flow, node: m.Node) -> str | None:
        fall = node.next or flow.after(node.id)
        match node:
            case m.Say():
                key = await self.control.play(self.prompts(node.prompt), barge_in=node.barge_in)
                self.pending_key = key or None
                return fall
            case m.Menu():
                key, self.pending_key = self.pending_key, None
                return await ask_menu(self, flow, node, key)
            case m.Input():
                self.pending_key = None
                return await ask_input(self, node, fall)
            case m.SetVars():
                for name, value in node.values.items():
                    self.vars[name] = self.text(value) if isinstance(value, str) else value
                return fall
            case m.If():
                return (
                    node.then
                    if node.when and evaluate(node.when, self.facts(flow))
                    else (node.otherwise or fall)
                )
            case m.Switch():
                return self._switch(flow, node) or node.default or fall
            case m.Goto():
                return node.next
            case m.Hours():
                return self._hours(flow, node) or fall
            case m.Queue():
                return await self._queue(node, fall)
            case m.Transfer():
                if node.prompt:
                    await self.control.play(self.prompts(node.prompt))
                number = self.text(node.number)
                if await self.control.transfer(number):
                    self.vars["transferred_to"] = number
                    raise _Stop("transferred")
                return node.on_fail or fall
            case m.Record():
                return await self._record(node, fall)
            case m.Ticket():
                return await self._ticket(node, fall)
            case m.TicketStatus():
                ticket = self.text(node.ticket)
                status = await self.services.lookup.status(ticket) if self.services.lookup else None
                self.vars[node.var] = status
                return fall if status else (node.not_found or fall)
            case m.Hangup():
                if node.prompt:
                    await self.control.play(self.prompts(node.prompt))
                await self.control.hangup()
                raise _Stop("hangup")
        raise _Stop("error", f"cannot run a {node.type} node here")

    def _switch(self, flow: m.Flow, node: m.Switch) -> str | None:
        if node.var is not None:
            actual = self.lookup(node.var)
            text = "" if actual is None else str(actual)
            return next((c.target for c in node.cases if c.value == text), None)
        facts = self.facts(flow)
        return next((c.target for c in node.cases if c.when and evaluate(c.when, facts)), None)

    def _hours(self, flow: m.Flow, node: m.Hours) -> str | None:
        calendar = self.flows.calendar_for(flow, node.calendar)
        if calendar is None:
            log.warning("%s: no calendar loaded; treating the line as open", self.step)
            return node.open
        now = self.services.clock()
        self.vars["holiday"] = calendar.holiday_name(now)
        if calendar.is_holiday(now) and node.holiday:
            return node.holiday
        return node.open if calendar.is_open(now) else node.closed

    async def _queue(self, node: m.Queue, fall: str | None) -> str | None:
        self.vars["queue"] = node.queue
        if node.prompt:
            await self.control.play(self.prompts(node.prompt))
        request = QueueRequest(
            node.queue, self.context(node.priority), priority=node.priority, skills=dict(node.skills)
        )
        result = await self.control.enqueue(request)
        self.quiet = 0
        self.result.queue = result
        self.vars["queue_outcome"] = result.outcome
        if result.ticket_id:
            self.vars["ticket_id"] = result.ticket_id
        if result.outcome in node.outcomes:
            return node.outcomes[result.outcome]
        survey = self.services.surveys.get(node.queue)
        if result.outcome == "operator_hangup" and survey and survey in self.flows.flows:
            assert self.flow is not None
            here = self.flow
            await self._run_flow(survey, 1)
            self.flow = here
            await self.control.hangup()
            raise _Stop("hangup")
        return fall

    async def _record(self, node: m.Record, fall: str | None) -> str | None:
        if node.prompt:
            await self.control.play(self.prompts(node.prompt))
        folder = self.services.recordings
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{_safe(self.control.call_id)}-{_safe(node.id)}.wav"
        try:
            seconds = await self.control.record(
                path, max_seconds=node.max_seconds, silence_seconds=node.silence_seconds
            )
        except CallerHangup:
            # "说完请挂机": hanging up ends the message; keep it so the ticket node still runs.
            if not path.is_file() or path.stat().st_size <= 44:  # 44 bytes: a WAV header alone
                raise
            self.caller_gone = True
            seconds = max(0.1, (path.stat().st_size - 44) / 16000)  # 8 kHz 16-bit mono
        self.quiet = 0
        if seconds <= 0.0:
            return node.on_empty or fall
        self.vars[node.var] = str(path)
        self.vars[f"{node.var}_seconds"] = round(seconds, 1)
        return fall

    async def _ticket(self, node: m.Ticket, fall: str | None) -> str | None:
        fields: dict[str, Any] = {k: self.text(v) for k, v in node.fields.items()}
        fields.setdefault("caller", self.control.caller)
        fields.setdefault("call_id", self.control.call_id)
        fields.setdefault("flow_path", self.result.route)
        try:
            if self.services.tickets is None:
                raise RuntimeError("no ticket store is connected")
            ticket_id = await self.services.tickets.create(fields)
        except CallerHangup:
            raise
        except Exception as exc:
            log.error("%s: ticket not created: %s", self.step, exc)
            self.vars["ticket_error"] = str(exc)
            return node.on_error or fall
        self.vars[node.var] = ticket_id
        self.result.tickets.append(ticket_id)
        return fall

    def context(self, priority: int) -> CallContext:
        """The call as the queue, the screen pop and the ticket will see it (built once, here).
        What the caller's words were understood to mean fills what the flow did not set: the
        ticket's category (a menu's `category: 投诉` is an intent, not a taxonomy path), address,
        description and urgency."""
        scalars = {k: v for k, v in self.vars.items() if isinstance(v, str | int | float | bool)}
        u = self.understanding
        category = str(self.vars.get("category", "") or "")
        if u is not None and u.categories and "/" not in category:
            category = u.categories[0]
        return CallContext(
            call_id=self.control.call_id,
            caller=self.control.caller,
            dialled=self.control.dialled,
            origin=self.control.origin,
            flow=self.entry,
            path=tuple(self.result.route),
            choices={k: v for k, v in scalars.items() if k not in _NOT_CHOICES},
            # key presses are marked, so the operator does not read "0" as something said
            transcript=tuple(
                f"{u.who} (按键): {u.text}" if u.kind == "dtmf" else f"{u.who}: {u.text}"
                for u in self.result.transcript
            ),
            urgency=urgency_for(self.vars.get("urgency"), priority),
            category=category_path(category),
            address=str(self.vars.get("address", "") or (u.address if u else "")),
            description=str(self.vars.get("description", "") or (u.text if u else "")),
            understanding=u,
        )

    # -- helpers shared with the menu and input logic -------------------------------------------
    def facts(self, flow: m.Flow) -> Facts:
        return Facts(self.lookup, self.services.clock(), self.flows.calendar_for(flow), self.services.queues)

    def lookup(self, name: str) -> object:
        if name in ("caller", "dialled", "call_id"):
            return str(getattr(self.control, name))
        if name in ("time", "date", "weekday"):
            now = self.services.clock().astimezone(CHINA)
            return {
                "time": now.strftime("%H:%M"),
                "date": now.strftime("%Y-%m-%d"),
                "weekday": WEEKDAYS[now.weekday()],
            }[name]
        if name.startswith("queue.") and self.services.queues is not None:
            parts = name.split(".")
            queue, metric = (
                (parts[1], parts[2]) if len(parts) == 3 else (str(self.vars.get("queue", "")), parts[1])
            )
            return _queue_figure(self, queue, metric)
        return self.vars.get(name)

    def text(self, template: str, extra: dict[str, object] | None = None) -> str:
        return render(template, lambda n: extra[n] if extra and n in extra else self.lookup(n))

    def prompts(self, parts: Sequence[m.PromptPart], extra: dict[str, object] | None = None) -> list[Prompt]:
        out = [Prompt(text=self.text(p.text, extra) or None, wav=p.wav_path) for p in parts]
        for p in out:
            self.result.transcript.append(Utterance("ivr", p.text or f"[{p.wav}]", self.step, "prompt"))
        self.quiet = 0
        return out

    def heard(self, h: Heard) -> None:
        self.result.transcript.append(Utterance("caller", h.value, self.step, h.kind))

    @property
    def understander(self) -> Understander | None:
        return self.flows.understanding

    def understood(self, u: Understanding) -> None:
        """Keep the step's result for the call context; `{intent}` and `{said}` for prompts and
        conditions; an urgent caller stays urgent whatever they say next."""
        self.understanding = u
        self.vars["intent"] = u.intent
        self.vars["said"] = u.text
        if u.urgent:
            self.vars["urgency"] = "urgent"
        spots = self.services.hotspots
        spot = spots.note(self.control.call_id, u, self.services.clock().timestamp()) if spots else None
        if spot is not None:
            log.warning(
                "hot spot: %d calls about %s at %s since %s%s",
                len(spot.calls),
                spot.category,
                spot.place,
                dt.datetime.fromtimestamp(spot.first, CHINA).strftime("%H:%M"),
                " (urgent)" if spot.urgent else "",
            )
            self.vars["hot_spot"] = len(spot.calls)
            if self.services.on_hot_spot is not None:
                self.services.on_hot_spot(spot)


def _queue_figure(it: Interpreter, queue: str, metric: str) -> object:
    q = it.services.queues
    if q is None or not queue:
        return None
    if metric == "waiting":
        return q.waiting(queue)
    if metric == "position":
        return q.waiting(queue) + 1
    if metric == "free_seats":
        return q.free_seats(queue)
    if metric == "estimated_wait":
        return round(q.estimated_wait(queue))
    if metric == "wait_minutes":
        return max(1, math.ceil(q.estimated_wait(queue) / 60))
    return None


_NOT_CHOICES = frozenset({"queue", "queue_outcome", "caller"})  # the line's own, not the caller's
_FACING = (m.Say, m.Menu, m.Input, m.Queue, m.Transfer, m.Record, m.Hangup)


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)[:80] or "call"
