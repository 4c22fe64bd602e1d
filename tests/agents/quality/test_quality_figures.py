"""Team figures are their seats' sums (an average over every reviewed call, not of averages);
seats in no team are grouped under 未分组; the CSV has Chinese headers and a BOM."""

from __future__ import annotations

from agents.quality import by_team, to_csv
from agents.quality.figures import rows
from ivr.config import SeatSettings
from ivr.records import SeatFigures


def test_teams_sum_their_seats_and_the_csv_reads_in_a_spreadsheet() -> None:
    seats = [
        SeatSettings("1001", "王芳", "sip:1001@127.0.0.1", team="一班"),
        SeatSettings("1002", "李强", "sip:1002@127.0.0.1", team="一班"),
        SeatSettings("1003", "张敏", "sip:1003@127.0.0.1"),
    ]
    teams = {"1001": "一班", "1002": "一班"}  # Store.seat_teams(): seats in no team left out
    figures = [
        SeatFigures("1001", reviews=1, score_sum=100.0),
        SeatFigures("1002", reviews=3, score_sum=180.0, fatal=1, appeals=1, appeals_revised=1, below_pass=2),
        SeatFigures("1003", reviews=2, score_sum=150.0),
    ]
    grouped = {f.seat_id: f for f in by_team(figures, teams)}
    assert grouped["一班"].average == 70.0  # 280 / 4 calls, not (100 + 60) / 2
    assert (grouped["一班"].fatal, grouped["一班"].appeals_revised, grouped["一班"].below_pass) == (1, 1, 2)
    assert grouped["未分组"].average == 75.0
    table = rows(figures, {s.id: s.name for s in seats})
    text = to_csv(table)
    assert text.startswith("\ufeff编号,名称,质检数,平均分,差错数,不合格数,申诉数,改判数")
    assert "1002,李强,3,60.0,1,2,1,1" in text.splitlines()
    assert rows([SeatFigures("1004")], {})[0]["average"] is None
