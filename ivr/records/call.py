"""A call as the line describes it: its context, its request to a queue and how that ended, the
offer of the caller to a seat, and its call record (CDR).

A call has one id everywhere: its SIP Call-ID (`call_id`). The queue, the store, the screen pop
and MQTT all use that string; the SIP engine's own numbers never leave it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

QueueOutcome = Literal["completed", "operator_hangup", "timeout", "full", "no_agents", "callback", "error"]
RingOutcome = Literal["answered", "no_answer", "busy", "failed", "caller_gone"]
Scalar = str | int | float | bool
Urgency = Literal["normal", "urgent", "critical"]
URGENCIES: tuple[Urgency, ...] = ("normal", "urgent", "critical")


def urgency_for(wanted: object, priority: int = 0) -> Urgency:
    """The flow's `urgency` variable when it names one; otherwise urgent for a priority queue."""
    if wanted in URGENCIES:
        return wanted
    return "urgent" if priority > 0 else "normal"


def category_path(value: str) -> tuple[str, str, str]:
    """'城市管理/市容环境/占道经营' -> its three levels; '投诉' -> ('投诉', '', '')."""
    parts = [p.strip() for p in value.replace("＞", "/").replace(">", "/").split("/") if p.strip()][:3]
    parts += [""] * (3 - len(parts))
    return (parts[0], parts[1], parts[2])


@dataclass(frozen=True)
class Understanding:
    """What the understanding step made of one thing the caller said: the intent (or "unclear")
    with its confidence and deciding words, urgency, up to three categories ("一级/二级/三级")
    with their suggested units, the place named, numbers spoken, and a reason for each decision."""

    text: str
    intent: str
    confidence: float = 0.0
    intent_words: tuple[str, ...] = ()
    urgent: bool = False
    urgent_words: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # best first
    units: tuple[str, ...] = ()  # the suggested unit of each category
    place: Mapping[str, str] = field(default_factory=dict)  # district, street, compound, road
    numbers: Mapping[str, str] = field(default_factory=dict)  # phone / ticket_no -> digits
    reasons: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        """The place as one address line (district, street, compound, road)."""
        return "".join(self.place.get(k, "") for k in ("district", "street", "road", "compound"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "intent": self.intent,
            "confidence": round(self.confidence, 3),
            "intent_words": list(self.intent_words),
            "urgent": self.urgent,
            "urgent_words": list(self.urgent_words),
            "categories": list(self.categories),
            "units": list(self.units),
            "place": dict(self.place),
            "address": self.address,
            "numbers": dict(self.numbers),
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class CallContext:
    """Who is calling and what the voice menu learned. The flow builds it once, when the caller
    is queued; the queue, the screen pop, the ticket draft and MQTT carry it unchanged."""

    call_id: str
    caller: str
    dialled: str = ""
    origin: str = ""  # "ip:port" the call came from: a callback is dialled back through it
    flow: str = ""  # the entry flow
    path: tuple[str, ...] = ()  # "flow:node" steps so far
    choices: Mapping[str, Scalar] = field(default_factory=dict)  # the flow's variables
    transcript: tuple[str, ...] = ()  # "ivr: ...", "caller: ...", "caller (按键): 2"
    urgency: Urgency = "normal"
    category: tuple[str, str, str] = ("", "", "")
    address: str = ""
    description: str = ""
    understanding: Understanding | None = None  # what the caller's words were taken to mean

    def ivr(self) -> dict[str, Any]:
        """What the voice menu did, as the ticket's context and the screen pop show it."""
        out: dict[str, Any] = {
            "flow": self.flow,
            "path": list(self.path),
            "choices": dict(self.choices),
            "transcript": list(self.transcript),
        }
        if self.understanding is not None:
            out["understanding"] = self.understanding.as_dict()
        return out


@dataclass(frozen=True)
class QueueRequest:
    queue: str
    context: CallContext
    priority: int = 0  # higher is served first
    skills: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class QueueResult:
    """How the caller left the queue; the flow branches on `outcome`."""

    outcome: QueueOutcome
    ticket_id: str | None = None
    seat_id: str | None = None
    waited: float = 0.0


@dataclass(frozen=True)
class Offer:
    """The queue offering a caller to a seat: what the screen pop shows and the seat line dials."""

    context: CallContext
    queue: str
    seat_id: str
    seat_uri: str
    priority: int = 0
    ticket_id: str = ""  # "" until the screen pop has written the draft
    attempt: int = 1
    waited: float = 0.0
    callback: bool = False  # the caller hung up keeping their place: ring the seat, then dial them

    @property
    def call_id(self) -> str:
        return self.context.call_id


@dataclass(frozen=True)
class CallRecord:
    """One CDR row; saved (upserted) as the call progresses: when answered (no `ended_at` yet:
    open), when an operator takes it (seat, ticket, recording), and when it ends. A row still open
    when its line starts again is a call that line's crash cut off (ivr.recovery)."""

    call_id: str
    caller: str
    started_at: float
    dialled: str = ""
    answered_at: float | None = None
    ended_at: float | None = None
    flow: str = ""
    path: tuple[str, ...] = ()
    outcome: str = ""
    queue: str = ""
    seat_id: str = ""
    ticket_id: str = ""
    node: str = ""  # the line that holds the call (its MQTT client id): who closes it after a crash
    recording: str = ""  # the QA recording of the conversation with the operator
