"""The narrow seam between a voice menu and a call leg.

Flows drive a caller only through `CallControl`; the SIP leg (`ivr.sip.leg`) implements it
for real calls, the simulator and tests implement it without SIP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from ivr.records import QueueRequest, QueueResult


class CallerHangup(Exception):
    """Raised from any CallControl await once the caller has hung up."""


class ControlError(Exception):
    """An operator's call control (hold, transfer, three-way) that does not fit the call now:
    `status` as HTTP would say it, `message` for the operator; nothing was changed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Prompt:
    """One thing to say: TTS text or a recorded WAV (with text as the fallback when it is missing)."""

    text: str | None = None
    wav: Path | None = None


@dataclass(frozen=True)
class DigitSpec:
    """How to collect DTMF: up to `max_digits`, ended early by `terminator`."""

    max_digits: int = 1
    first_timeout: float = 5.0  # seconds from the end of the prompt to the first key
    inter_timeout: float = 3.0  # seconds between keys
    terminator: str | None = "#"


@dataclass(frozen=True)
class SpeechSpec:
    """How to listen. `phrases` are vocabulary-segmented phrases ("人工 服务"); None is free-form."""

    phrases: tuple[str, ...] | None = None
    timeout: float = 5.0  # no speech start within this -> no input
    max_seconds: float = 10.0  # longest utterance
    min_confidence: float = 0.0


@dataclass(frozen=True)
class Heard:
    """What the caller gave: keys, words, or nothing."""

    kind: Literal["dtmf", "speech", "noinput"]
    value: str = ""
    confidence: float = 1.0
    seconds: float = 0.0  # from the end of the prompt to the end of the input


class CallControl(Protocol):
    @property
    def call_id(self) -> str: ...

    @property
    def caller(self) -> str: ...

    @property
    def dialled(self) -> str: ...

    @property
    def origin(self) -> str:
        """Where the call came from ("ip:port"), so a callback can be dialled back through it."""
        ...

    async def play(self, prompts: Sequence[Prompt], *, barge_in: bool = False) -> str | None:
        """Play prompts in order; with barge_in a key stops them and is returned."""
        ...

    async def ask(
        self,
        prompts: Sequence[Prompt],
        *,
        digits: DigitSpec | None = None,
        speech: SpeechSpec | None = None,
        barge_in: bool = True,
    ) -> Heard:
        """Play prompts, then collect keys and/or speech (either may start during the prompt)."""
        ...

    async def enqueue(self, request: QueueRequest) -> QueueResult:
        """Wait in a queue until served and finished, or until the caller leaves it another way."""
        ...

    async def transfer(self, target: str) -> bool: ...

    async def record(self, path: Path, *, max_seconds: float, silence_seconds: float) -> float:
        """Record the caller into a WAV; returns the recorded length in seconds (0 if nothing)."""
        ...

    async def hangup(self) -> None: ...
