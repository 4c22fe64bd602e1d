"""The operators' call controls' settings ([controls]) and who is on duty to take a call handed up.

The team leader on duty (值班班长) is read through `duty_leader` only, so the day teams and their
leaders live in the store, the one function changes and its callers do not."""

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


def duty_leader(controls: ControlSettings) -> str:
    """The seat of the team leader on duty now ("" when none is set)."""
    return controls.leader_seat
