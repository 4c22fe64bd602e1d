"""Fakes for flow tests: a scripted `CallControl`, queue figures and a ticket store."""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from ivr.control import CallerHangup, DigitSpec, Heard, Prompt, SpeechSpec
from ivr.flow.checker import check_set, load_file
from ivr.flow.model import FlowSet, Problem
from ivr.records import QueueRequest, QueueResult

CST = dt.timezone(dt.timedelta(hours=8))


def at(text: str) -> dt.datetime:
    """A Beijing wall-clock moment: at("2025-03-04 10:00")."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=CST)


class FakeCall:
    """Answers each `ask` with the next scripted input: "" is silence, digits are keys, else speech."""

    def __init__(
        self,
        answers: Sequence[str | Heard] = (),
        *,
        caller: str = "13800138000",
        queue: Sequence[str] = (),
        transfer_ok: bool = True,
        record_seconds: float = 10.0,
        barge: str | None = None,
    ) -> None:
        self.answers = list(answers)
        self._caller = caller
        self.queue_outcomes = list(queue)
        self.transfer_ok = transfer_ok
        self.record_seconds = record_seconds
        self.barge = barge
        self.asked: list[tuple[list[str], DigitSpec | None, SpeechSpec | None]] = []
        self.played: list[list[str]] = []
        self.enqueued: list[QueueRequest] = []
        self.transfers: list[str] = []
        self.recordings: list[Path] = []
        self.hung_up = False

    call_id = "call-1"
    dialled = "12345"
    origin = "127.0.0.1:5060"

    @property
    def caller(self) -> str:
        return self._caller

    async def play(self, prompts: Sequence[Prompt], *, barge_in: bool = False) -> str | None:
        self.played.append([p.text or "" for p in prompts])
        if barge_in and self.barge:
            key, self.barge = self.barge, None
            return key
        return None

    async def ask(
        self,
        prompts: Sequence[Prompt],
        *,
        digits: DigitSpec | None = None,
        speech: SpeechSpec | None = None,
        barge_in: bool = True,
    ) -> Heard:
        self.asked.append(([p.text or "" for p in prompts], digits, speech))
        if not self.answers:
            raise CallerHangup()
        a = self.answers.pop(0)
        if isinstance(a, Heard):
            return a
        if a == "":
            return Heard("noinput")
        if set(a) <= set("0123456789*#"):
            return Heard("dtmf", a)
        return Heard("speech", a)

    async def enqueue(self, request: QueueRequest) -> QueueResult:
        self.enqueued.append(request)
        outcome: Any = self.queue_outcomes.pop(0) if self.queue_outcomes else "completed"
        return QueueResult(outcome=outcome)

    async def transfer(self, target: str) -> bool:
        self.transfers.append(target)
        return self.transfer_ok

    async def record(self, path: Path, *, max_seconds: float, silence_seconds: float) -> float:
        self.recordings.append(path)
        return min(self.record_seconds, max_seconds)

    async def hangup(self) -> None:
        self.hung_up = True


class Queues:
    def __init__(self, figures: Mapping[str, tuple[int, int, float]] | None = None) -> None:
        self.figures = dict(figures or {})

    def waiting(self, queue: str) -> int:
        return self.figures.get(queue, (0, 1, 0.0))[0]

    def free_seats(self, queue: str) -> int:
        return self.figures.get(queue, (0, 1, 0.0))[1]

    def estimated_wait(self, queue: str) -> float:
        return self.figures.get(queue, (0, 1, 0.0))[2]


class Tickets:
    def __init__(self, known: Mapping[str, str] | None = None, fail: bool = False) -> None:
        self.known = dict(known or {})
        self.created: list[dict[str, Any]] = []
        self.fail = fail

    async def create(self, fields: Mapping[str, Any]) -> str:
        if self.fail:
            raise RuntimeError("store down")
        self.created.append(dict(fields))
        return f"T{len(self.created):04d}"

    async def status(self, ticket_id: str) -> str | None:
        return self.known.get(ticket_id)


QUEUES = {"general", "urgent"}


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_set(folder: Path, **texts: str) -> tuple[FlowSet, list[Problem]]:
    """Write flows into `folder`, load and check them together."""
    flows = {}
    problems: list[Problem] = []
    for name, text in texts.items():
        flow, found = load_file(write(folder, name, text))
        problems += found
        if flow is not None:
            flows[name] = flow
    calendars, more = check_set(flows, QUEUES)
    return FlowSet(flows, calendars, 1), problems + more


@pytest.fixture
def flows(tmp_path: Path) -> Any:
    """flows(main=YAML, ...) -> FlowSet, failing the test on any checker error."""

    def make(**texts: str) -> FlowSet:
        got, problems = load_set(tmp_path, **texts)
        errors = [str(p) for p in problems if p.severity == "error"]
        assert not errors, errors
        return got

    return make
