"""Scripted callers for `ivr flows try FLOW --script FILE`, so flows can be tested in CI.

    flow: main                       # optional; the command line's FLOW wins
    caller: "13800138000"
    time: "2025-03-04 10:00"         # Beijing time for hours and time-of-day branches
    queues: {general: {waiting: 3, free_seats: 1, estimated_wait: 90}}
    tickets: {"20250301001": 已派单至朝阳区住建委}
    cases:                           # or one case's steps/expect at the top level
      - name: complaint by voice
        steps: [say 我要投诉, queue operator_hangup, "1"]
        expect:
          outcome: hangup            # hangup | caller_hangup | transferred | error
          path: [main_menu, complaint, survey:ask]   # visited in this order (others may come between)
          not_path: [after_hours]
          vars: {category: 投诉}
Each case may override caller, dialled, time, queues and tickets.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from ivr.flow.interpreter import FlowResult, Interpreter
from ivr.flow.model import FlowSet
from ivr.flow.services import FlowServices
from ivr.flow.simulator import FakeQueues, FakeTickets, SimulatedCall, fixed_clock

_CASE_KEYS = {"name", "flow", "caller", "dialled", "time", "queues", "tickets", "steps", "expect"}


class ScriptError(ValueError):
    pass


@dataclass
class CaseReport:
    name: str
    result: FlowResult
    failures: list[str] = field(default_factory=list)
    transcript: str = ""

    @property
    def passed(self) -> bool:
        return not self.failures


def read_script(path: Path) -> list[dict[str, Any]]:
    """The cases of a script file, each with the shared settings filled in."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ScriptError(f"{path}: {exc}") from None
    if isinstance(raw, list):
        raw = {"steps": raw}
    if not isinstance(raw, dict):
        raise ScriptError(f"{path}: a script is a mapping with steps: or cases:")
    shared = {k: v for k, v in raw.items() if k != "cases"}
    cases = raw.get("cases") or [{}]
    if not isinstance(cases, list) or not all(isinstance(c, dict) for c in cases):
        raise ScriptError(f"{path}: cases: must be a list of mappings")
    out = []
    for i, case in enumerate(cases):
        merged = {**shared, **case}
        unknown = set(merged) - _CASE_KEYS
        if unknown:
            raise ScriptError(f"{path}: case {i + 1}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        merged.setdefault("name", f"case {i + 1}")
        merged["steps"] = [str(s) for s in merged.get("steps") or []]
        out.append(merged)
    return out


def _visited(route: list[str], want: str) -> list[int]:
    return [i for i, step in enumerate(route) if step == want or step.split(":", 1)[1] == want]


def expectations(expect: dict[str, Any], result: FlowResult) -> list[str]:
    failures: list[str] = []
    route = result.route
    if "outcome" in expect and expect["outcome"] != result.outcome:
        failures.append(f"outcome {result.outcome!r}, expected {expect['outcome']!r}")
    at = -1
    for want in expect.get("path") or []:
        later = [i for i in _visited(route, str(want)) if i > at]
        if not later:
            failures.append(f"path does not reach {want!r} (after step {at + 1})")
            break
        at = later[0]
    for avoid in expect.get("not_path") or []:
        if _visited(route, str(avoid)):
            failures.append(f"path visits {avoid!r}")
    for name, value in (expect.get("vars") or {}).items():
        got = result.variables.get(name)
        if str(got) != str(value):
            failures.append(f"variable {name} is {got!r}, expected {value!r}")
    if "tickets" in expect and len(result.tickets) != int(expect["tickets"]):
        failures.append(f"{len(result.tickets)} ticket(s) created, expected {expect['tickets']}")
    return failures


async def run_case(
    flows: FlowSet, entry: str, case: dict[str, Any], out: TextIO, base: FlowServices | None = None
) -> CaseReport:
    buffer = io.StringIO()
    call = SimulatedCall(
        case["steps"],
        buffer,
        caller=str(case.get("caller", "13800138000")),
        dialled=str(case.get("dialled", "12345")),
    )
    tickets = FakeTickets(known={str(k): str(v) for k, v in (case.get("tickets") or {}).items()})
    base = base or FlowServices()
    services = FlowServices(
        queues=FakeQueues(case.get("queues") or {}),
        tickets=tickets,
        lookup=tickets,
        clock=fixed_clock(str(case["time"])) if case.get("time") else base.clock,
        recordings=base.recordings,
        surveys=base.surveys,
    )
    result = await Interpreter(flows, call, services).run(str(case.get("flow") or entry))
    report = CaseReport(str(case["name"]), result, expectations(case.get("expect") or {}, result))
    report.transcript = buffer.getvalue()
    print(f"== {report.name}", file=out)
    out.write(report.transcript)
    print(f"path: {' -> '.join(result.route)}", file=out)
    print(f"outcome: {result.outcome}" + (f" ({result.error})" if result.error else ""), file=out)
    for failure in report.failures:
        print(f"FAIL: {failure}", file=out)
    print("ok" if report.passed else "FAILED", file=out)
    return report
