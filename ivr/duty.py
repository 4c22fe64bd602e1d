"""The operators' call controls' settings ([controls]) and who is on duty to take a call handed up.

The team leader an operator hands a call up to (值班班长) is read through `duty_leader` only: the
leader of the operator's own team (班组, kept in the store), else the centre's duty leader from
[controls]."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ivr.configcheck import POSITIVE_SECONDS, Problems, Rule, checked


@dataclass(frozen=True)
class ControlSettings:
    """Hold, transfer, three-way and outbound calls from the operator's console."""

    leader_seat: str = ""  # the duty team leader's seat id ("转值班班长"); "": no such target
    hold_music: str = checked("hold.wav", Rule("a WAV file name under [flows] audio", bool))
    answer_seconds: float = checked(
        30.0, POSITIVE_SECONDS
    )  # a consulted seat or outside number rings this long


def control_settings(raw: Any, seats: tuple[str, ...], problems: Problems) -> ControlSettings:
    """[controls], with the rule that the leader is one of the [[seats]]."""
    c = problems.section(ControlSettings, raw, "[controls]")
    if c.leader_seat and c.leader_seat not in seats:
        known = ", ".join(f'"{s}"' for s in seats) or "none"
        problems.add(
            "[controls]",
            f'leader_seat: expected the id of a [[seats]] entry ({known}), got "{c.leader_seat}"',
        )
    return c


def duty_leader(controls: ControlSettings, team_leader: str, seat_id: str) -> str:
    """The seat that takes a call `seat_id` hands up: its team's leader (`team_leader`, from the
    roster), unless it is the leader itself or the team has none; then [controls] leader_seat
    ("" when none is set)."""
    if team_leader and team_leader != seat_id:
        return team_leader
    return controls.leader_seat
