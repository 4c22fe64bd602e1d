"""The centre's roster: teams (班组) with their team leader, and the seats the store keeps
(seats of config.toml are merged with them by ivr.roster)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

SHIFTS = ("白班", "小夜班", "通宵夜班")  # day, evening, night; "" for a seat on no fixed shift


@dataclass(frozen=True)
class Team:
    id: str  # short code used in URLs and CSV files, e.g. "t01"
    name: str  # as the board and reports show it, e.g. "一班"
    leader: str = ""  # the team leader's seat id ("" while none is named)


@dataclass(frozen=True)
class SeatRow:
    """A seat as the store keeps it. Only a salted hash of its sign-in password (ivr.passwords)."""

    id: str
    name: str
    uri: str  # the seat phone, e.g. sip:1001@10.0.0.21
    team: str = ""  # team id
    shift: str = ""  # one of SHIFTS or ""
    skills: Mapping[str, int] = field(default_factory=dict)
    queues: tuple[str, ...] = ()
    password_hash: str = ""  # "" : cannot sign in until an admin sets a password
    wrapup_seconds: float | None = None  # None: the queue's
    source: str = "store"  # "store", or "config" for a copy of a config.toml seat (read-only)
