"""Quality figures per operator and per team (班组) over a date range, as the page and the CSV
show them. The store sums per seat in SQL; a team's figures are its seats' sums added up, so
its average weighs every reviewed call alike."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from ivr.records import SeatFigures

NO_TEAM = "未分组"
COLUMNS = ("key", "name", "reviews", "average", "fatal", "below_pass", "appeals", "appeals_revised")
HEADERS = ("编号", "名称", "质检数", "平均分", "差错数", "不合格数", "申诉数", "改判数")


def rows(figures: Sequence[SeatFigures], names: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "key": f.seat_id,
            "name": names.get(f.seat_id, f.seat_id),
            "reviews": f.reviews,
            "average": f.average,
            "fatal": f.fatal,
            "below_pass": f.below_pass,
            "appeals": f.appeals,
            "appeals_revised": f.appeals_revised,
        }
        for f in figures
    ]


def by_team(figures: Sequence[SeatFigures], teams: Mapping[str, str]) -> list[SeatFigures]:
    """The seats' figures added up per team (seats in none under 未分组), by team name."""
    out: dict[str, SeatFigures] = {}
    for f in figures:
        team = teams.get(f.seat_id) or NO_TEAM
        out[team] = out.get(team, SeatFigures(team)).plus(f)
    return [out[t] for t in sorted(out)]


def to_csv(table: Sequence[Mapping[str, Any]]) -> str:
    """With a BOM, so spreadsheet programs on Chinese Windows read the names right."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADERS)
    for row in table:
        writer.writerow(["" if row[c] is None else row[c] for c in COLUMNS])
    return "\ufeff" + buf.getvalue()
