"""A follow-up (回访) task: after a unit replies, the line calls the citizen to ask whether the
problem was solved and how satisfied they are."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# due: waits for the line's next call; calling: a call is under way; worklist: the line gave up
# (no answer after the retries), an operator calls from the console; done: answered or closed
FOLLOWUP_STATES = ("due", "calling", "worklist", "done")


@dataclass(frozen=True)
class Followup:
    id: str  # "<ticket id>-<n>": the ticket's n-th follow-up (a reopened ticket gets another)
    ticket_id: str
    caller: str
    state: str
    due_at: float  # the next attempt, not before
    attempts: int
    last_outcome: str  # "", "answered", "no_answer", "busy", "failed"
    answer: Mapping[str, Any] = field(default_factory=dict)  # solved, satisfaction, by, at
    operator: str = ""  # the seat that took it from the worklist
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True)
class OutboundResult:
    """How a call the line placed went: "answered" (the flow ran; its variables), "no_answer",
    "busy" or "failed"."""

    outcome: str
    variables: Mapping[str, Any] = field(default_factory=dict)
