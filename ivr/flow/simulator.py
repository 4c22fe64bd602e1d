"""`ivr flows try FLOW`: a caller at the terminal or from a script, with no SIP at all.

What the caller does, one step per prompt, typed or listed in a script:
    1  or  13800138000#      keys            timeout (or an empty line)   no input
    say 我要投诉  (or any text) speech         hangup                       caller hangs up
    queue operator_hangup       how the queue ends (default completed)
    transfer fail            the transfer fails (default ok)
    record 0                 seconds recorded (default 8)
    barge 2                  a key pressed during a barge-in prompt
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO, get_args

from ivr.control import CallerHangup, DigitSpec, Heard, Prompt, SpeechSpec
from ivr.flow.calendar import CHINA
from ivr.records import QueueRequest, QueueResult

_DIGITS = set("0123456789*#")
Outcome = Literal["completed", "operator_hangup", "timeout", "full", "no_agents", "callback", "error"]
QUEUE_OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)


@dataclass
class FakeQueues:
    figures: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def waiting(self, queue: str) -> int:
        return int(self.figures.get(queue, {}).get("waiting", 0))

    def free_seats(self, queue: str) -> int:
        return int(self.figures.get(queue, {}).get("free_seats", 1))

    def estimated_wait(self, queue: str) -> float:
        return float(self.figures.get(queue, {}).get("estimated_wait", 0.0))


@dataclass
class FakeTickets:
    """Creates ticket ids like the store would and answers status look-ups from a fixed table."""

    known: dict[str, str] = field(default_factory=dict)
    created: list[dict[str, Any]] = field(default_factory=list)
    counter: Any = field(default_factory=lambda: itertools.count(1))

    async def create(self, fields: Mapping[str, Any]) -> str:
        ticket_id = f"2025{next(self.counter):08d}"
        self.created.append(dict(fields))
        self.known[ticket_id] = "已受理，正在派单"
        return ticket_id

    async def status(self, ticket_id: str) -> str | None:
        return self.known.get(ticket_id)


def fixed_clock(text: str) -> Callable[[], dt.datetime]:
    """ "2025-03-04 10:00" as Beijing time."""
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA)
    return lambda: moment


class SimulatedCall:
    """A `CallControl` whose caller is a list of steps or a person at the keyboard."""

    def __init__(
        self,
        steps: Sequence[str] | None,
        out: TextIO,
        *,
        caller: str = "13800138000",
        dialled: str = "12345",
        read: Callable[[str], str] | None = None,
    ) -> None:
        self._steps = list(steps) if steps is not None else None
        self._read = read or input
        self.out = out
        self._caller, self._dialled = caller, dialled
        self.hung_up = False
        self.log: list[str] = []

    @property
    def call_id(self) -> str:
        return "sim-1"

    @property
    def caller(self) -> str:
        return self._caller

    @property
    def dialled(self) -> str:
        return self._dialled

    @property
    def origin(self) -> str:
        return ""

    def _say(self, line: str) -> None:
        self.log.append(line)
        print(line, file=self.out)

    async def _next(self, kind: str) -> str:
        """The next step; script steps for another kind (queue, record ...) are not consumed."""
        if self.hung_up:
            raise CallerHangup()
        if self._steps is None:
            try:
                text = await asyncio.to_thread(self._read, f"[{kind}]> ")
            except EOFError:
                raise CallerHangup() from None
            text = text.strip()
            return text[len(kind) :].strip() if text.lower().startswith(kind + " ") else text
        if not self._steps:
            if kind == "ask":
                self._say("   (script ended: the caller hangs up)")
                raise CallerHangup()
            return ""
        step = self._steps[0].strip()
        verb = step.split(" ", 1)[0].lower()
        if kind in ("queue", "transfer", "record", "barge") and verb != kind:
            return ""
        if kind == "ask" and verb in ("queue", "transfer", "record", "barge"):
            return ""  # that step is for a later node; this prompt gets no answer
        self._steps.pop(0)
        return step.split(" ", 1)[1].strip() if kind != "ask" and " " in step else step

    def _show(self, prompts: Sequence[Prompt]) -> None:
        for p in prompts:
            self._say(f"IVR: {p.text or ''}" + (f"  [{p.wav.name}]" if p.wav else ""))

    async def play(self, prompts: Sequence[Prompt], *, barge_in: bool = False) -> str | None:
        self._show(prompts)
        if barge_in and self._steps:
            key = await self._next("barge")
            if key:
                self._say(f"caller presses {key} during the prompt")
                return key[:1]
        return None

    async def ask(
        self,
        prompts: Sequence[Prompt],
        *,
        digits: DigitSpec | None = None,
        speech: SpeechSpec | None = None,
        barge_in: bool = True,
    ) -> Heard:
        self._show(prompts)
        step = await self._next("ask")
        low = step.lower()
        if low == "hangup":
            self._say("caller hangs up")
            self.hung_up = True
            raise CallerHangup()
        if low in ("", "timeout", "noinput"):
            self._say("caller: (silence)")
            return Heard("noinput")
        if set(step) <= _DIGITS:
            if digits is None:
                self._say(f"caller presses {step} (not listened for here)")
                return Heard("noinput")
            self._say(f"caller presses {step}")
            return Heard("dtmf", step[: digits.max_digits + (1 if digits.terminator else 0)])
        text = step[4:].strip() if low.startswith("say ") else step
        if speech is None:
            self._say(f"caller says {text!r} (speech is not listened for here)")
            return Heard("noinput")
        self._say(f"caller says {text!r}")
        return Heard("speech", text)

    async def enqueue(self, request: QueueRequest) -> QueueResult:
        given = await self._next("queue") or "completed"
        outcome = next((o for o in QUEUE_OUTCOMES if o == given), None)
        if outcome is None:
            self._say(f"   (unknown queue outcome {given!r}; using error)")
            outcome = "error"
        self._say(f"-> queue {request.queue} (priority {request.priority}): {outcome}")
        seat = "1001" if outcome in ("completed", "operator_hangup") else None
        return QueueResult(outcome=outcome, seat_id=seat)

    async def transfer(self, target: str) -> bool:
        ok = (await self._next("transfer")).lower() not in ("fail", "failed", "busy")
        self._say(f"-> transfer to {target}: {'ok' if ok else 'failed'}")
        return ok

    async def record(self, path: Path, *, max_seconds: float, silence_seconds: float) -> float:
        given = await self._next("record")
        try:
            seconds = float(given) if given else 8.0
        except ValueError:
            seconds = 8.0
        seconds = min(seconds, max_seconds)
        self._say(f"-> caller leaves a {seconds:g}s message (max {max_seconds:g}s)")
        return seconds

    async def hangup(self) -> None:
        if not self.hung_up:
            self._say("-> IVR hangs up")
        self.hung_up = True
