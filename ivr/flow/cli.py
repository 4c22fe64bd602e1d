"""`ivr flows check|schema|graph|try`: the admin's tools for voice menus."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ivr import config as cfg
from ivr.flow.checker import check_set, load_file
from ivr.flow.graph import dot, mermaid
from ivr.flow.intents import UNDERSTANDING_FILE, load_understanding
from ivr.flow.library import FlowLibrary
from ivr.flow.model import Flow, Problem
from ivr.flow.phrases import Vocabulary, load_words
from ivr.flow.schema import json_schema
from ivr.flow.script import ScriptError, read_script, run_case
from ivr.flow.services import FlowServices, surveys


class _Setup:
    """What the commands need from config.toml. A missing config still lets an admin check files;
    a broken one stops the command (status 2) with its problems."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.settings: cfg.Settings | None = None
        if Path(args.config).exists():
            try:
                self.settings = cfg.load(args.config)
            except cfg.ConfigError as exc:  # checking flows against a half-read config misleads
                for problem in exc.problems:
                    print(f"ivr flows: {problem}", file=sys.stderr)
                raise SystemExit(2) from exc
        else:
            print(f"note: {args.config}: no such config file; queue names are not checked", file=sys.stderr)
        s = self.settings
        self.flows_dir = s.resolve(s.flows_dir) if s else Path("flows").resolve()
        self.queues: set[str] | None = set(s.queues) if s else None
        self.audio_dirs = [s.resolve(s.audio_dir)] if s else [Path("audio").resolve()]
        self.vocabulary: Vocabulary | None = load_words(args.vocab) if getattr(args, "vocab", None) else None

    def library(self) -> FlowLibrary:
        s = self.settings
        if s is not None:
            return FlowLibrary.from_settings(s, vocabulary=self.vocabulary)
        return FlowLibrary(self.flows_dir, vocabulary=self.vocabulary, audio_dirs=self.audio_dirs)

    def surveys(self) -> dict[str, str]:
        return surveys(self.settings) if self.settings else {}


def _short(p: Path) -> Path:
    """Paths as the admin would type them (relative to the current folder when inside it)."""
    try:
        return p.resolve().relative_to(Path.cwd())
    except ValueError:
        return p


def _files(paths: Sequence[str], default: Path) -> list[Path]:
    out: list[Path] = []
    for p in [Path(x) for x in paths] or [default]:
        out += sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml")) if p.is_dir() else [p]
    return [_short(p) for p in out]


def check_files(
    paths: Sequence[Path],
    flows_dir: Path,
    queues: set[str] | None,
    vocabulary: Vocabulary | None,
    audio: list[Path],
) -> list[Problem]:
    """Problems of the given files, checked together with the rest of the flows folder."""
    problems: list[Problem] = []
    for p in paths:
        if p.name == UNDERSTANDING_FILE:
            problems += load_understanding(p)[1]
    paths = [p for p in paths if p.name != UNDERSTANDING_FILE]
    given = {p.resolve() for p in paths}
    context = [
        p
        for p in (_files([], flows_dir) if flows_dir.is_dir() else [])
        if p.resolve() not in given and p.name != UNDERSTANDING_FILE
    ]
    flows: dict[str, Flow] = {}
    for path in [*context, *paths]:
        flow, found = load_file(path, vocabulary=vocabulary, audio_dirs=audio)
        if path.resolve() in given:
            problems += found
        if flow is not None:
            flows[flow.name] = flow
    _, more = check_set(flows, queues)
    problems += [p for p in more if Path(p.file).resolve() in given]
    return sorted(set(problems), key=lambda p: (p.file, p.pos, p.message))


def cmd_check(args: argparse.Namespace) -> int:
    setup = _Setup(args)
    paths = _files(args.paths, setup.flows_dir)
    if not paths:
        print(f"no flow files in {setup.flows_dir}", file=sys.stderr)
        return 1
    problems = check_files(paths, setup.flows_dir, setup.queues, setup.vocabulary, setup.audio_dirs)
    errors = sum(p.severity == "error" for p in problems)
    warnings = sum(p.severity == "warning" for p in problems)
    if args.json:
        doc = {"files": [str(p) for p in paths], "errors": errors, "warnings": warnings}
        doc["problems"] = [p.as_dict() for p in problems]
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        for p in problems:
            print(p)
        print(f"{len(paths)} file(s): {errors} error(s), {warnings} warning(s)", file=sys.stderr)
    return 1 if errors or (args.strict and warnings) else 0


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(), ensure_ascii=False, indent=2))
    return 0


def _load_one(setup: _Setup, name: str) -> Flow | None:
    path = Path(name) if name.endswith((".yaml", ".yml")) else setup.flows_dir / f"{name}.yaml"
    flow, problems = load_file(path, vocabulary=setup.vocabulary, audio_dirs=setup.audio_dirs)
    for p in problems:
        print(p, file=sys.stderr)
    return flow


def cmd_graph(args: argparse.Namespace) -> int:
    flow = _load_one(_Setup(args), args.flow)
    if flow is None:
        return 1
    print(dot(flow) if args.dot else mermaid(flow), end="")
    return 0


def cmd_try(args: argparse.Namespace) -> int:
    setup = _Setup(args)
    lib = setup.library()
    problems = lib.load()
    name = Path(args.flow).stem
    if name not in lib.snapshot.flows:
        for p in problems:
            print(p, file=sys.stderr)
        print(f"flow {name!r} is not usable (see the problems above)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="ivr-try-") as tmp:
        base = FlowServices(recordings=Path(tmp), surveys=setup.surveys())
        case: dict[str, object] = {"name": name, "caller": args.caller, "dialled": args.dialled}
        if args.time:
            case["time"] = args.time
        if args.script is None:
            print(__import__("ivr.flow.simulator", fromlist=["x"]).__doc__, file=sys.stderr)
            ok = asyncio.run(_interactive(lib, name, case, base))
            return 0 if ok else 1
        try:
            cases = read_script(Path(args.script))
        except ScriptError as exc:
            print(exc, file=sys.stderr)
            return 1
        failed = 0
        for c in cases:
            merged = {**case, **c} if args.time is None else {**case, **c, "time": args.time}
            report = asyncio.run(run_case(lib.snapshot, name, merged, sys.stdout, base))
            failed += not report.passed
        print(f"{len(cases) - failed} of {len(cases)} case(s) passed", file=sys.stderr)
        return 1 if failed else 0


async def _interactive(lib: FlowLibrary, name: str, case: dict[str, object], base: FlowServices) -> bool:
    from ivr.flow.interpreter import Interpreter
    from ivr.flow.simulator import FakeQueues, FakeTickets, SimulatedCall, fixed_clock

    call = SimulatedCall(None, sys.stdout, caller=str(case["caller"]), dialled=str(case["dialled"]))
    tickets = FakeTickets()
    clock = fixed_clock(str(case["time"])) if "time" in case else base.clock
    services = FlowServices(FakeQueues(), tickets, tickets, clock, base.recordings, base.surveys)
    result = await Interpreter(lib.snapshot, call, services).run(name)
    print(f"path: {' -> '.join(result.route)}")
    print(f"outcome: {result.outcome}" + (f" ({result.error})" if result.error else ""))
    return result.outcome != "error"


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Adds `flows` with check, schema, graph and try to the `ivr` command line."""
    flows = sub.add_parser("flows", help="check, export, draw and try voice-menu flows")
    fsub = flows.add_subparsers(dest="flows_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", default="config.toml", help="config file (default: config.toml)")
        p.add_argument("--vocab", help="speech vocabulary file (words.txt) to check phrases against")

    p = fsub.add_parser("check", help="check flow files; exit 1 on errors")
    p.add_argument("paths", nargs="*", help="files or folders (default: the flows folder from config)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--strict", action="store_true", help="warnings also fail")
    common(p)
    p.set_defaults(func=cmd_check)

    p = fsub.add_parser("schema", help="print the flow JSON Schema for editors")
    p.add_argument("--config", default="config.toml", help="config file (default: config.toml)")
    p.set_defaults(func=cmd_schema)

    p = fsub.add_parser("graph", help="print a flow as a Mermaid flowchart")
    p.add_argument("flow", help="flow name or file")
    p.add_argument("--dot", action="store_true", help="Graphviz DOT instead of Mermaid")
    common(p)
    p.set_defaults(func=cmd_graph)

    p = fsub.add_parser("try", help="run a flow in the terminal (no SIP)")
    p.add_argument("flow", help="flow name")
    p.add_argument("--script", help="YAML script of caller steps and expectations (for CI)")
    p.add_argument("--caller", default="13800138000", help="caller number")
    p.add_argument("--dialled", default="12345", help="dialled number")
    p.add_argument("--time", help='pretend it is this Beijing time, e.g. "2025-10-01 10:00"')
    common(p)
    p.set_defaults(func=cmd_try)


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry for tests: `python -m ivr.flow.cli flows check ...`."""
    parser = argparse.ArgumentParser(prog="ivr")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
