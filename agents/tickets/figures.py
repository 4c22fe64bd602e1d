"""Figures of the ticket's life after the call, over a date range, per unit, category,
district (the unit's district) or team (班组 of the operator who took the ticket, from
`Store.seat_teams()`), from the events in the tickets' history:

- received: dispatches (and re-dispatches) to the unit;
- on_time_rate: replies made by the deadline in force / replies;
- returned_rate: returns (退单) / received;
- reopened_rate: reopens after a follow-up (重办) / replies;
- resolution_rate: follow-up answers "solved" / follow-up answers;
- satisfaction_rate: follow-up answers 满意 or 基本满意 / follow-up answers.

An event counts for the unit the ticket was with at that moment, and in the range its time falls
in. The counting is one aggregate query in the store (ivr/store/figures.py); here the counts
become rates. Rates are None when their base is 0."""

from __future__ import annotations

from typing import Any

from ivr.store import Store

COLUMNS = (
    "name",
    "received",
    "replied",
    "on_time_rate",
    "returned_rate",
    "reopened_rate",
    "followups",
    "resolution_rate",
    "satisfaction_rate",
)
GROUPS = ("unit", "category", "district", "team")
NONE = "（未填）"  # tickets without a unit, category, district or team


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def unit_figures(store: Store, since: float, until: float, group: str = "unit") -> list[dict[str, Any]]:
    """One row per unit, category (first level), district or team, busiest first."""
    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}")
    rows = []
    for c in await store.tickets.event_counts(since, until, group):
        rows.append(
            {
                "name": c.name or NONE,
                "received": c.received,
                "replied": c.replied,
                "on_time_rate": _rate(c.on_time, c.replied),
                "returned_rate": _rate(c.returned, c.received),
                "reopened_rate": _rate(c.reopened, c.replied),
                "followups": c.followups,
                "resolution_rate": _rate(c.solved, c.followups),
                "satisfaction_rate": _rate(c.satisfied, c.followups),
            }
        )
    return sorted(rows, key=lambda r: (-r["received"], -r["replied"], r["name"]))
