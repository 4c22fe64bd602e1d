"""The line's roster: config.toml's seats merged with the seats and teams kept in the store.

The merge, predictable by design:
- config.toml's `[[seats]]` are copied into the store at each start (`source = 'config'`), so
  the console, the board, the reports and `Store.seat_teams()` see every seat the same way; a
  seat removed from config.toml goes from the store at the next start;
- a seat id in both: config.toml wins (the console shows such seats read-only, and an import or
  an admin cannot create a store seat with a config seat's id);
- config seats sign in with their config.toml password, store seats with the password hash
  the store keeps (ivr.passwords); a store seat without one cannot sign in;
- a team named by a config seat that the store does not know is created (name = id).

`Roster` is an immutable snapshot; the console's admin pages write the store and take a new one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ivr.config import SeatSettings
from ivr.records import SeatRow, Team
from ivr.store.base import Store

log = logging.getLogger(__name__)


def row_of(seat: SeatSettings) -> SeatRow:
    """A config.toml seat as the store copies it (never its password)."""
    return SeatRow(
        seat.id,
        seat.name,
        seat.uri,
        seat.team,
        seat.shift,
        dict(seat.skills),
        tuple(seat.queues),
        "",
        seat.wrapup_seconds,
        "config",
    )


def settings_of(row: SeatRow) -> SeatSettings:
    """A store seat as the queue sees it (the password stays in the store, hashed)."""
    return SeatSettings(
        id=row.id,
        name=row.name,
        uri=row.uri,
        skills=dict(row.skills),
        queues=tuple(row.queues),
        wrapup_seconds=row.wrapup_seconds,
        team=row.team,
        shift=row.shift,
    )


@dataclass(frozen=True)
class Roster:
    seats: Mapping[str, SeatSettings]  # config.toml's first, then the store's, by id
    teams: Mapping[str, Team]  # by id
    hashes: Mapping[str, str] = field(default_factory=dict)  # store seat id -> password hash
    config_ids: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls, config_seats: Iterable[SeatSettings], rows: Iterable[SeatRow], teams: Iterable[Team]
    ) -> Roster:
        seats = {s.id: s for s in config_seats}
        config_ids = frozenset(seats)
        hashes: dict[str, str] = {}
        for row in rows:
            if row.id in config_ids:
                continue  # config.toml wins (its copy, or a store seat it shadows)
            seats[row.id] = settings_of(row)
            if row.password_hash:
                hashes[row.id] = row.password_hash
        return cls(seats, {t.id: t for t in teams}, hashes, config_ids)

    def team_of(self, seat_id: str) -> Team | None:
        seat = self.seats.get(seat_id)
        return self.teams.get(seat.team) if seat is not None and seat.team else None

    def led_by(self, seat_id: str) -> list[Team]:
        return [t for t in self.teams.values() if seat_id and t.leader == seat_id]

    def may_supervise(self, leader_seat: str, seat_id: str) -> bool:
        """A team leader may listen in to the seats of the teams they lead (not to themselves)."""
        team = self.team_of(seat_id)
        return team is not None and team.leader == leader_seat and seat_id != leader_seat

    def seat_teams(self) -> dict[str, str]:
        """Seat id -> team name, seats in no (known) team left out."""
        out: dict[str, str] = {}
        for seat in self.seats.values():
            team = self.teams.get(seat.team)
            if team is not None:
                out[seat.id] = team.name
        return out

    def team_seats(self, team_id: str) -> set[str]:
        return {s.id for s in self.seats.values() if s.team == team_id}


async def load(store: Store, config_seats: Iterable[SeatSettings]) -> Roster:
    """Copy config.toml's seats into the store (teams they name are created) and read the roster."""
    config_seats = tuple(config_seats)
    known = {t.id for t in await store.roster.teams()}
    for team_id in sorted({s.team for s in config_seats if s.team} - known):
        log.info("config.toml names team %s, unknown to the store: created (name %s)", team_id, team_id)
        await store.roster.put_team(Team(team_id, team_id))
    await store.roster.sync_config([row_of(s) for s in config_seats])
    return await read(store, config_seats)


async def read(store: Store, config_seats: Iterable[SeatSettings]) -> Roster:
    return Roster.of(config_seats, await store.roster.seats(), await store.roster.teams())
