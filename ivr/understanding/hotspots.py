"""Hot spots: several callers about the same kind of problem at the same place within hours
(a cracking building, 40 households with the same shrunken windows). One caller is a ticket;
the third is a pattern a supervisor must see, and the tickets of those calls are one job.

Calls are grouped by the most specific place they named (compound, road, street, then district)
and the first two levels of their first category, over a sliding window. Each call's ticket is
linked when the screen pop drafts it, so a cluster knows its tickets as well as its calls.
Single-threaded: the flow and the queue note calls on the event loop, with wall-clock times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ivr.records import Understanding

PLACE_ORDER = ("compound", "road", "street", "district")


@dataclass
class _Call:
    at: float
    call_id: str
    urgent: bool
    ticket_id: str = ""


@dataclass(frozen=True)
class HotSpot:
    place: str
    category: str  # 一级/二级: "住房保障/房屋质量" gathers 墙体开裂 and 外墙脱落
    calls: tuple[str, ...]  # call ids, oldest first
    first: float
    last: float
    urgent: bool  # any of the calls was urgent
    tickets: tuple[str, ...] = ()  # the calls' tickets drafted so far, oldest first

    @property
    def id(self) -> str:
        """Stable while the cluster lives: what the board and the dispatch request name."""
        return f"{self.place}|{self.category}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "place": self.place,
            "category": self.category,
            "calls": len(self.calls),
            "call_ids": list(self.calls),
            "tickets": list(self.tickets),
            "first": self.first,
            "last": self.last,
            "urgent": self.urgent,
        }


def key_of(u: Understanding) -> tuple[str, str] | None:
    """(place, category) a call counts under, or None without both."""
    place = next((u.place[k] for k in PLACE_ORDER if u.place.get(k)), "")
    if not place or not u.categories:
        return None
    return place, "/".join(u.categories[0].split("/")[:2])


class HotSpots:
    """Clusters of calls by place and problem. `on_change` is told of every hot spot (at or over
    the threshold) that gains a call or a ticket: the line publishes it and the board shows it."""

    def __init__(
        self,
        window: float = 3 * 3600.0,
        threshold: int = 3,
        on_change: Callable[[HotSpot], None] | None = None,
    ) -> None:
        self.window = window
        self.threshold = threshold
        self.on_change = on_change
        self._calls: dict[tuple[str, str], list[_Call]] = {}
        self._key_of_call: dict[str, tuple[str, str]] = {}

    def note(self, call_id: str, u: Understanding, at: float, ticket_id: str = "") -> HotSpot | None:
        """Count the call (once per call and key); the hot spot when it now has `threshold`
        calls or more, else None."""
        key = key_of(u)
        if key is None:
            return None
        calls = self._calls.setdefault(key, [])
        self._expire(calls, at)
        if any(c.call_id == call_id for c in calls):
            return None
        calls.append(_Call(at, call_id, u.urgent, ticket_id))
        self._key_of_call[call_id] = key
        if len(calls) < self.threshold:
            return None
        spot = self._spot(key, calls)
        if self.on_change is not None:
            self.on_change(spot)
        return spot

    def link(self, call_id: str, ticket_id: str) -> HotSpot | None:
        """Record the ticket drafted for a counted call; the call's cluster when it is a hot
        spot (then also told to `on_change`), else None."""
        key = self._key_of_call.get(call_id)
        calls = self._calls.get(key) if key else None
        if key is None or calls is None:
            return None
        for c in calls:
            if c.call_id == call_id and c.ticket_id != ticket_id:
                c.ticket_id = ticket_id
                break
        else:
            return self.of_call(call_id)
        if len(calls) < self.threshold:
            return None
        spot = self._spot(key, calls)
        if self.on_change is not None:
            self.on_change(spot)
        return spot

    def of_call(self, call_id: str) -> HotSpot | None:
        """The hot spot the call belongs to, if its cluster is at or over the threshold."""
        key = self._key_of_call.get(call_id)
        calls = self._calls.get(key) if key else None
        if key is None or not calls or len(calls) < self.threshold:
            return None
        return self._spot(key, calls)

    def get(self, spot_id: str, at: float) -> HotSpot | None:
        return next((s for s in self.current(at) if s.id == spot_id), None)

    def current(self, at: float) -> list[HotSpot]:
        """Every hot spot still within the window, the most calls first."""
        spots = []
        for key, calls in list(self._calls.items()):
            self._expire(calls, at)
            if not calls:
                del self._calls[key]
            elif len(calls) >= self.threshold:
                spots.append(self._spot(key, calls))
        return sorted(spots, key=lambda s: (-len(s.calls), -s.last))

    def _expire(self, calls: list[_Call], at: float) -> None:
        while calls and calls[0].at < at - self.window:
            self._key_of_call.pop(calls.pop(0).call_id, None)

    @staticmethod
    def _spot(key: tuple[str, str], calls: list[_Call]) -> HotSpot:
        return HotSpot(
            place=key[0],
            category=key[1],
            calls=tuple(c.call_id for c in calls),
            first=calls[0].at,
            last=calls[-1].at,
            urgent=any(c.urgent for c in calls),
            tickets=tuple(c.ticket_id for c in calls if c.ticket_id),
        )
