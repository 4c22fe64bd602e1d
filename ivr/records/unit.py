"""A responsible unit (承办单位) tickets are dispatched to, and the staff who sign in for it."""

from __future__ import annotations

from dataclasses import dataclass

UNIT_KINDS = ("街乡镇", "区分中心", "委办局")


@dataclass(frozen=True)
class Unit:
    id: str  # short code used in URLs and sign-in, e.g. "cy-cgw"
    name: str  # as tickets name it in `Ticket.unit`, e.g. "朝阳区城管委"
    kind: str = "委办局"  # one of UNIT_KINDS
    district: str = ""


@dataclass(frozen=True)
class UnitStaff:
    """A unit's sign-in. Only a salted hash of the password is kept (ivr.passwords)."""

    login: str
    unit_id: str
    name: str
    password_hash: str
