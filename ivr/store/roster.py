"""Teams (班组) and seats, for SQLite and PostgreSQL alike (tables `teams` and `seats`).

Writes go through the store's batching writer, each call one transaction (a CSV import of 1,500
seats commits whole or not at all); reads go straight to the database. Seat rows carry a
password hash only (ivr.passwords), never a password. Rows copied from config.toml carry
`source = 'config'` and are replaced as a set by `sync_config`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import aiosqlite

from ivr.records import SHIFTS, SeatRow, Team
from ivr.store.base import StoreError
from ivr.store.writer import BatchWriter, Statement

if TYPE_CHECKING:
    import asyncpg

_TEAM = "id, name, leader"
_SEAT = "id, name, uri, team, shift, skills, queues, password_hash, wrapup_seconds, source"


def _marks(mark: str, n: int) -> str:
    return ", ".join(f"${i}" if mark == "$" else "?" for i in range(1, n + 1))


def _put_team(team: Team, mark: str) -> Statement:
    if not team.id or not team.name:
        raise StoreError("a team needs an id and a name")
    sql = (
        f"INSERT INTO teams ({_TEAM}) VALUES ({_marks(mark, 3)}) ON CONFLICT (id) DO UPDATE"
        " SET name = excluded.name, leader = excluded.leader"
    )
    return (sql, (team.id, team.name, team.leader))


def _put_seat(seat: SeatRow, mark: str, keep_password: bool) -> Statement:
    if not seat.id or not seat.name or not seat.uri:
        raise StoreError("a seat needs an id, a name and a SIP URI")
    if seat.shift and seat.shift not in SHIFTS:
        raise StoreError(f"seat {seat.id}: shift must be one of {SHIFTS}")
    if seat.password_hash and not seat.password_hash.startswith("pbkdf2_sha256$"):
        raise StoreError(f"seat {seat.id}: a password hash, never a password")
    # an import without passwords keeps the ones the seats have
    password = "seats.password_hash" if keep_password else "excluded.password_hash"
    sql = (
        f"INSERT INTO seats ({_SEAT}) VALUES ({_marks(mark, 10)}) ON CONFLICT (id) DO UPDATE"
        " SET name = excluded.name, uri = excluded.uri, team = excluded.team,"
        " shift = excluded.shift, skills = excluded.skills, queues = excluded.queues,"
        f" password_hash = {password}, wrapup_seconds = excluded.wrapup_seconds,"
        " source = excluded.source"
    )
    values = (
        seat.id,
        seat.name,
        seat.uri,
        seat.team,
        seat.shift,
        json.dumps(dict(seat.skills), ensure_ascii=False),
        json.dumps(list(seat.queues), ensure_ascii=False),
        seat.password_hash,
        seat.wrapup_seconds,
        seat.source,
    )
    return (sql, values)


def _team(row: Any) -> Team:
    return Team(row[0], row[1], row[2])


def _seat(row: Any) -> SeatRow:
    return SeatRow(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        {str(k): int(v) for k, v in json.loads(row[5]).items()},
        tuple(json.loads(row[6])),
        row[7],
        row[8],
        row[9],
    )


class _Roster:
    """What both databases share: statements and checks; subclasses read."""

    def __init__(self, writer: BatchWriter, mark: str) -> None:
        self._writer = writer
        self._mark = mark

    async def _one(self, sql: str, *args: Any) -> Any:
        raise NotImplementedError

    async def _all(self, sql: str, *args: Any) -> list[Any]:
        raise NotImplementedError

    def _q(self, sql: str) -> str:
        """Write `?` marks; PostgreSQL gets $1, $2 ..."""
        if self._mark == "?":
            return sql
        parts = sql.split("?")
        return "".join(p + (f"${i + 1}" if i < len(parts) - 1 else "") for i, p in enumerate(parts))

    async def put_team(self, team: Team) -> None:
        taken = await self._one(
            self._q("SELECT id FROM teams WHERE name = ? AND id <> ?"), team.name, team.id
        )
        if taken is not None:
            raise StoreError(f"team name {team.name!r} is taken by team {taken[0]!r}")
        await self._writer.write([_put_team(team, self._mark)])

    async def delete_team(self, team_id: str) -> None:
        """StoreError while seats are still in the team."""
        row = await self._one(self._q("SELECT COUNT(*) FROM seats WHERE team = ?"), team_id)
        if row is not None and int(row[0]):
            raise StoreError(f"team {team_id!r} still has {int(row[0])} seats")
        await self._writer.write([(self._q("DELETE FROM teams WHERE id = ?"), (team_id,))])

    async def teams(self) -> list[Team]:
        return [_team(r) for r in await self._all(f"SELECT {_TEAM} FROM teams ORDER BY id")]

    async def put_seats(
        self, seats: Sequence[SeatRow], *, teams: Sequence[Team] = (), keep_passwords: bool = False
    ) -> None:
        """Add or change seats (by id), and `teams` with them, in one transaction. With
        `keep_passwords`, rows without a hash keep the seat's current one."""
        statements = [_put_team(t, self._mark) for t in teams]
        statements += [_put_seat(s, self._mark, keep_passwords and not s.password_hash) for s in seats]
        await self._writer.write(statements)

    async def set_password(self, seat_id: str, password_hash: str) -> None:
        if not password_hash.startswith("pbkdf2_sha256$"):
            raise StoreError("a password hash, never a password")
        sql = self._q("UPDATE seats SET password_hash = ? WHERE id = ? AND source = 'store'")
        await self._writer.write([(sql, (password_hash, seat_id))])

    async def delete_seat(self, seat_id: str) -> None:
        await self._writer.write(
            [
                (self._q("DELETE FROM seats WHERE id = ? AND source = 'store'"), (seat_id,)),
                (self._q("UPDATE teams SET leader = '' WHERE leader = ?"), (seat_id,)),
            ]
        )

    async def sync_config(self, seats: Sequence[SeatRow]) -> None:
        """The seats of config.toml, copied in one transaction: those no longer there go, and a
        store seat with the same id is replaced (config.toml wins)."""
        ids = [s.id for s in seats]
        keep = ", ".join("?" for _ in ids)
        drop = "DELETE FROM seats WHERE source = 'config'" + (f" AND id NOT IN ({keep})" if ids else "")
        statements: list[Statement] = [(self._q(drop), tuple(ids))]
        statements += [_put_seat(s, self._mark, False) for s in seats]
        await self._writer.write(statements)

    async def seats(self) -> list[SeatRow]:
        return [_seat(r) for r in await self._all(f"SELECT {_SEAT} FROM seats ORDER BY id")]

    async def seat(self, seat_id: str) -> SeatRow | None:
        row = await self._one(self._q(f"SELECT {_SEAT} FROM seats WHERE id = ?"), seat_id)
        return _seat(row) if row is not None else None

    async def seat_teams(self) -> dict[str, str]:
        rows = await self._all("SELECT s.id, t.name FROM seats s JOIN teams t ON t.id = s.team ORDER BY s.id")
        return {r[0]: r[1] for r in rows}


class SqliteRosterBook(_Roster):
    def __init__(self, conn: aiosqlite.Connection, writer: BatchWriter) -> None:
        super().__init__(writer, "?")
        self._conn = conn

    async def _one(self, sql: str, *args: Any) -> Any:
        async with self._conn.execute(sql, args) as cur:
            return await cur.fetchone()

    async def _all(self, sql: str, *args: Any) -> list[Any]:
        async with self._conn.execute(sql, args) as cur:
            return list(await cur.fetchall())


class PgRosterBook(_Roster):
    def __init__(self, pool: asyncpg.Pool, writer: BatchWriter) -> None:
        super().__init__(writer, "$")
        self._pool = pool

    async def _one(self, sql: str, *args: Any) -> Any:
        return await self._pool.fetchrow(sql, *args)

    async def _all(self, sql: str, *args: Any) -> list[Any]:
        return list(await self._pool.fetch(sql, *args))
