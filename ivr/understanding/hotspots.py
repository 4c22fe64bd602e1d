"""Hot spots: several callers about the same kind of problem at the same place within hours
(a cracking building, 40 households with the same shrunken windows). One caller is a ticket;
the third is a pattern a supervisor must see.

Calls are grouped by the most specific place they named (compound, road, street, then district)
and the first two levels of their first category, over a sliding window. Pure and
single-threaded: the flow notes each understood call on the event loop, with its clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from ivr.records import Understanding

PLACE_ORDER = ("compound", "road", "street", "district")


@dataclass(frozen=True)
class HotSpot:
    place: str
    category: str  # 一级/二级: "住房保障/房屋质量" gathers 墙体开裂 and 外墙脱落
    calls: tuple[str, ...]  # call ids, oldest first
    first: float
    last: float
    urgent: bool  # any of the calls was urgent

    def as_dict(self) -> dict[str, Any]:
        return {
            "place": self.place,
            "category": self.category,
            "calls": len(self.calls),
            "call_ids": list(self.calls),
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
    def __init__(self, window: float = 3 * 3600.0, threshold: int = 3) -> None:
        self.window = window
        self.threshold = threshold
        self._calls: dict[tuple[str, str], deque[tuple[float, str, bool]]] = {}

    def note(self, call_id: str, u: Understanding, at: float) -> HotSpot | None:
        """Count the call (once per call and key); the hot spot when it now has `threshold`
        calls or more, else None."""
        key = key_of(u)
        if key is None:
            return None
        calls = self._calls.setdefault(key, deque())
        self._expire(calls, at)
        if any(c == call_id for _, c, _ in calls):
            return None
        calls.append((at, call_id, u.urgent))
        return self._spot(key, calls) if len(calls) >= self.threshold else None

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

    def _expire(self, calls: deque[tuple[float, str, bool]], at: float) -> None:
        while calls and calls[0][0] < at - self.window:
            calls.popleft()

    @staticmethod
    def _spot(key: tuple[str, str], calls: deque[tuple[float, str, bool]]) -> HotSpot:
        return HotSpot(
            place=key[0],
            category=key[1],
            calls=tuple(c for _, c, _ in calls),
            first=calls[0][0],
            last=calls[-1][0],
            urgent=any(u for _, _, u in calls),
        )
