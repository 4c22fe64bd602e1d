"""What a running flow needs from the rest of the system, as narrow protocols.

The ACD implements `QueueState`, the ticket store `TicketSink` and `TicketLookup`; tests and the
simulator pass fakes. The clock is injectable so hours and time-of-day branches can be tested.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ivr.config import Settings
from ivr.flow.conditions import QueueState
from ivr.understanding import HotSpot, HotSpots

__all__ = ["FlowServices", "QueueState", "TicketLookup", "TicketSink"]


class TicketSink(Protocol):
    async def create(self, fields: Mapping[str, Any]) -> str:
        """Create a self-service ticket; returns its id (工单号)."""
        ...


class TicketLookup(Protocol):
    async def status(self, ticket_id: str) -> str | None:
        """A caller-readable status of the ticket (e.g. "已派单至朝阳区住建委"), None if unknown."""
        ...


def surveys(settings: Settings) -> dict[str, str]:
    """Queue name -> survey flow, from config.toml's [queues.NAME] survey_flow."""
    return {q.name: q.survey_flow for q in settings.queues.values() if q.survey_flow}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class FlowServices:
    queues: QueueState | None = None
    tickets: TicketSink | None = None
    lookup: TicketLookup | None = None
    clock: Callable[[], dt.datetime] = utc_now
    recordings: Path = Path("var/recordings")
    surveys: Mapping[str, str] = field(
        default_factory=dict
    )  # queue -> survey flow after the operator hangs up
    max_depth: int = 8  # nested sub-flow calls
    max_quiet_steps: int = 200  # nodes in a row without speaking to or hearing the caller
    hotspots: HotSpots | None = None  # shared by every call: several callers, one place and problem
    on_hot_spot: Callable[[HotSpot], None] | None = None  # told when a call makes or grows one
