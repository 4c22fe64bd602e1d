"""Whom an operator hands a call up to (转班长): their own team's leader, else the centre's duty
leader from [controls]; a leader handing up goes to the duty leader, never to themselves."""

from __future__ import annotations

from ivr.config import SeatSettings
from ivr.duty import ControlSettings, duty_leader
from ivr.records import Team
from ivr.roster import Roster


def seat(sid: str, team: str = "") -> SeatSettings:
    return SeatSettings(sid, f"座席{sid}", f"sip:{sid}@127.0.0.1", team=team)


def test_the_operators_team_leader_first_then_the_duty_leader() -> None:
    roster = Roster(
        {s.id: s for s in (seat("1001", "t1"), seat("1002", "t1"), seat("1003", "t2"), seat("1009"))},
        {"t1": Team("t1", "一班", leader="1002"), "t2": Team("t2", "二班")},
    )

    def leader_of(seat_id: str) -> str:
        team = roster.team_of(seat_id)
        return team.leader if team is not None else ""

    duty = ControlSettings(leader_seat="1009")
    assert duty_leader(duty, leader_of("1001"), "1001") == "1002"  # 一班's leader
    assert duty_leader(duty, leader_of("1002"), "1002") == "1009"  # the leader hands up to the duty one
    assert duty_leader(duty, leader_of("1003"), "1003") == "1009"  # 二班 has no leader named
    assert duty_leader(ControlSettings(), leader_of("1003"), "1003") == ""  # nobody: the console says so
