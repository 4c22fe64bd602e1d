"""The flows a running server uses, reloaded when an admin saves a file.

Each accepted state is an immutable, versioned `FlowSet`; a call takes `snapshot` once and runs on
it to the end. A changed file is checked together with the rest; with any error the edit is
rejected (log + `on_rejected`, e.g. to MQTT) and the running version stays. Calendar files the
flows name (often outside the flows folder's top level, e.g. calendar/12345.yaml) are watched
too: editing the holidays re-checks the flows that use them.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ivr.config import Settings
from ivr.flow.checker import check_set, load_file
from ivr.flow.intents import UNDERSTANDING_FILE, load_understanding
from ivr.flow.model import Flow, FlowSet, Hours, Problem
from ivr.flow.phrases import Vocabulary
from ivr.understanding import Understander

log = logging.getLogger("ivr.flow.library")


@dataclass(frozen=True)
class Rejected:
    """An edit that was not taken; `problems` are the checker's messages."""

    files: tuple[str, ...]
    problems: tuple[Problem, ...]

    def as_dict(self) -> dict[str, object]:
        return {"files": list(self.files), "problems": [p.as_dict() for p in self.problems]}


@dataclass
class ReloadReport:
    accepted: list[str] = field(default_factory=list)  # flow names now live in a new version
    rejected: list[Rejected] = field(default_factory=list)
    version: int = 0


OnRejected = Callable[[Rejected], Awaitable[None] | None]  # told of each rejected edit
Signature = tuple[int, int] | None  # (mtime_ns, size); None: the file is missing


def _signature(path: Path) -> Signature:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def calendar_paths(flow: Flow) -> set[Path]:
    """Calendar files a flow depends on: its own and any an `hours` node names."""
    names = {flow.calendar, *(n.calendar for n in flow.nodes.values() if isinstance(n, Hours))}
    paths = (FlowSet({}).calendar_path(flow, name) for name in names if name)
    return {Path(p) for p in paths if p}


@dataclass(frozen=True)
class _File:
    flow: Flow | None
    problems: tuple[Problem, ...]
    signature: tuple[int, int]


class FlowLibrary:
    def __init__(
        self,
        flows_dir: Path,
        *,
        queues: Collection[str] | None = None,
        numbers: Mapping[str, str] | None = None,
        default_flow: str = "main",
        vocabulary: Vocabulary | None = None,
        audio_dirs: Sequence[Path] = (),
        on_rejected: OnRejected | None = None,
        taxonomy: Path | None = None,
    ) -> None:
        self.dir = flows_dir
        self.queues = queues
        self.numbers = dict(numbers or {})
        self.default_flow = default_flow
        self.vocabulary = vocabulary
        self.audio_dirs = list(audio_dirs) or [flows_dir.parent / "audio"]
        self.on_rejected = on_rejected
        self.taxonomy = taxonomy  # the centre's taxonomy CSV (None: the shipped one)
        self._live: dict[str, _File] = {}  # accepted files by flow name
        self._seen: dict[Path, tuple[int, int]] = {}  # last signature looked at, accepted or not
        self._snapshot = FlowSet({}, {}, 0)
        self._waiting: dict[str, _File | None] = {}  # rejected edits, retried when anything else changes
        self._calendars: dict[Path, Signature] = {}  # calendar files of live and waiting flows
        self._understanding: Understander | None = None  # the accepted flows/understanding.yaml
        self._understanding_seen: Signature | bool = False  # False: not looked at yet

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        vocabulary: Vocabulary | None = None,
        on_rejected: OnRejected | None = None,
    ) -> FlowLibrary:
        """The library config.toml describes: flows folder, numbers, default flow, queue names."""
        return cls(
            settings.resolve(settings.flows_dir),
            queues=set(settings.queues),
            numbers=settings.numbers,
            default_flow=settings.default_flow,
            vocabulary=vocabulary,
            audio_dirs=[settings.resolve(settings.audio_dir)],
            on_rejected=on_rejected,
            taxonomy=settings.resolve(u) if (u := settings.understanding.taxonomy) else None,
        )

    @property
    def snapshot(self) -> FlowSet:
        return self._snapshot

    def flow_for(self, dialled: str) -> tuple[FlowSet, str]:
        """The snapshot a new call runs on and its entry flow for the dialled number."""
        snap = self._snapshot
        return snap, self.numbers.get(dialled, self.default_flow)

    def _scan(self) -> dict[Path, tuple[int, int]]:
        out: dict[Path, tuple[int, int]] = {}
        try:
            paths = sorted(p for p in self.dir.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))
        except OSError as exc:
            log.error("cannot list %s: %s", self.dir, exc)
            return dict(self._seen)
        for p in paths:
            if p.name == UNDERSTANDING_FILE:
                continue
            try:
                st = p.stat()
            except OSError:
                continue
            out[p] = (st.st_mtime_ns, st.st_size)
        return out

    def _read(self, path: Path, signature: tuple[int, int]) -> _File:
        flow, problems = load_file(path, vocabulary=self.vocabulary, audio_dirs=self.audio_dirs)
        return _File(flow, tuple(problems), signature)

    def _try(self, live: dict[str, _File]) -> tuple[FlowSet | None, list[Problem]]:
        problems = [p for f in live.values() for p in f.problems]
        flows = {name: f.flow for name, f in live.items() if f.flow is not None}
        calendars, more = check_set(flows, self.queues)
        problems += more
        if any(p.severity == "error" for p in problems) or len(flows) < len(live):
            return None, problems
        return FlowSet(flows, calendars, self._snapshot.version + 1, self._understanding), problems

    def _reload_understanding(self, report: ReloadReport) -> bool:
        """Take a changed understanding file when it loads clean; True when a new one was taken.
        A broken edit is rejected like a flow's and the running version stays."""
        path = self.dir / UNDERSTANDING_FILE
        sig = _signature(path)
        if sig == self._understanding_seen:
            return False
        self._understanding_seen = sig
        if sig is None:
            self._understanding = None
            return True
        step, problems = load_understanding(path, self.taxonomy)
        if step is None:
            report.rejected.append(Rejected((str(path),), tuple(problems)))
            return False
        self._understanding = step
        log.info("understanding loaded from %s", path)
        return True

    def reload(self) -> ReloadReport:
        """Look at the folder once; take every change that leaves the set clean."""
        now = self._scan()
        changed = {p: sig for p, sig in now.items() if self._seen.get(p) != sig}
        gone = [p for p in self._seen if p not in now]
        seen_calendars = {p: _signature(p) for p in self._calendars}  # before any is read again
        calendars = [p for p, sig in seen_calendars.items() if sig != self._calendars[p]]
        report = ReloadReport(version=self._snapshot.version)
        if self._reload_understanding(report) and self._snapshot.flows:
            old = self._snapshot
            self._snapshot = FlowSet(old.flows, old.calendars, old.version + 1, self._understanding)
            report.accepted.append(UNDERSTANDING_FILE)
        if not changed and not gone and not calendars:
            self._log(report)
            return report
        self._seen = now
        # A live flow whose calendar changed is re-checked as if edited: check_set re-reads calendars.
        edits: dict[str, _File | None] = {
            name: f for name, f in self._live.items() if f.flow and calendar_paths(f.flow) & set(calendars)
        }
        edits.update({p.stem: self._read(p, sig) for p, sig in changed.items()})
        edits.update({p.stem: None for p in gone})
        pending = {**self._waiting, **edits}
        # Take all edits at once (a new flow and the flow that calls it arrive together), else one by one.
        while pending:
            progress = False
            for batch in ([*pending], *([n] for n in pending)):
                live = dict(self._live)
                for name in batch:
                    if pending[name] is None:
                        live.pop(name, None)
                    else:
                        live[name] = pending[name]  # type: ignore[assignment]
                snap, _ = self._try(live)
                if snap is not None:
                    self._live, self._snapshot = live, snap
                    report.accepted += batch
                    for name in batch:
                        del pending[name]
                    progress = True
                    break
            if not progress:
                break
        self._waiting = dict(pending)
        for name in pending:
            live = dict(self._live)
            edit = pending[name]
            if edit is None:
                live.pop(name, None)
            else:
                live[name] = edit
            _, problems = self._try(live)
            errors = tuple(p for p in problems if p.severity == "error")
            path = next((str(p) for p in [*now, *gone] if p.stem == name), name)
            used = calendar_paths(edit.flow) if edit and edit.flow else set()
            report.rejected.append(Rejected((path, *sorted(str(p) for p in used & set(calendars))), errors))
        self._calendars = {
            p: seen_calendars[p] if p in seen_calendars else _signature(p)
            for f in [*self._live.values(), *self._waiting.values()]
            if f is not None and f.flow is not None
            for p in calendar_paths(f.flow)
        }
        self._log(report)
        return report

    def _log(self, report: ReloadReport) -> None:
        report.version = self._snapshot.version
        for r in report.rejected:
            log.error("flow edit rejected, keeping the running version: %s", ", ".join(r.files))
            for p in r.problems:
                log.error("  %s", p)
        if report.accepted:
            log.info("flows v%d live: %s", report.version, ", ".join(sorted(report.accepted)))

    def load(self) -> list[Problem]:
        """First load: every file that checks clean goes live; returns all problems found."""
        self._seen = {}
        self._understanding_seen = False
        report = self.reload()
        problems = [p for r in report.rejected for p in r.problems]
        # Files that only failed because a broken file they call was left out stay out too:
        # their rejection names the missing flow, which points the admin at the real culprit.
        return problems

    async def _notify(self, rejected: Rejected) -> None:
        if self.on_rejected is None:
            return
        try:
            got = self.on_rejected(rejected)
            if inspect.isawaitable(got):
                await got
        except Exception:
            log.exception("on_rejected listener failed")

    async def poll(self) -> ReloadReport:
        report = self.reload()
        for r in report.rejected:
            await self._notify(r)
        return report

    async def watch(self, interval: float = 1.0) -> None:
        """Poll the folder's mtimes forever (cancel the task to stop)."""
        while True:
            try:
                await self.poll()
            except Exception:  # a watcher that dies silently would freeze every later edit
                log.exception("flow reload failed")
            await asyncio.sleep(interval)
