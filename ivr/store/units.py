"""Units (承办单位) and their staff sign-ins, for SQLite and PostgreSQL alike (tables `units`
and `unit_staff`). Writes go through the store's batching writer; reads go straight to the
database. Staff rows carry a password hash only (ivr.passwords), never a password."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiosqlite

from ivr.records import UNIT_KINDS, Unit, UnitStaff
from ivr.store.base import StoreError
from ivr.store.writer import BatchWriter, Statement

if TYPE_CHECKING:
    import asyncpg

_UNIT = "id, name, kind, district"
_STAFF = "login, unit_id, name, password_hash"


def _marks(mark: str, n: int) -> str:
    return ", ".join(f"${i}" if mark == "$" else "?" for i in range(1, n + 1))


def _put_unit(unit: Unit, mark: str) -> Statement:
    if not unit.id or not unit.name:
        raise StoreError("a unit needs an id and a name")
    if unit.kind not in UNIT_KINDS:
        raise StoreError(f"unit kind must be one of {UNIT_KINDS}")
    sql = (
        f"INSERT INTO units ({_UNIT}) VALUES ({_marks(mark, 4)}) ON CONFLICT (id) DO UPDATE"
        " SET name = excluded.name, kind = excluded.kind, district = excluded.district"
    )
    return (sql, (unit.id, unit.name, unit.kind, unit.district))


def _put_staff(staff: UnitStaff, mark: str) -> Statement:
    if not staff.login or not staff.password_hash.startswith("pbkdf2_sha256$"):
        raise StoreError("a unit staff account needs a login and a password hash")
    sql = (
        f"INSERT INTO unit_staff ({_STAFF}) VALUES ({_marks(mark, 4)}) ON CONFLICT (login) DO UPDATE"
        " SET unit_id = excluded.unit_id, name = excluded.name, password_hash = excluded.password_hash"
    )
    return (sql, (staff.login, staff.unit_id, staff.name, staff.password_hash))


def _unit(row: Any) -> Unit:
    return Unit(row[0], row[1], row[2], row[3])


def _staff(row: Any) -> UnitStaff:
    return UnitStaff(row[0], row[1], row[2], row[3])


class SqliteUnitBook:
    def __init__(self, conn: aiosqlite.Connection, writer: BatchWriter) -> None:
        self._conn = conn
        self._writer = writer

    async def put_unit(self, unit: Unit) -> None:
        await self._writer.write([_put_unit(unit, "?")])

    async def put_staff(self, staff: UnitStaff) -> None:
        if await self.unit(staff.unit_id) is None:
            raise StoreError(f"no unit {staff.unit_id!r}")
        await self._writer.write([_put_staff(staff, "?")])

    async def units(self) -> list[Unit]:
        async with self._conn.execute(f"SELECT {_UNIT} FROM units ORDER BY id") as cur:
            return [_unit(r) for r in await cur.fetchall()]

    async def unit(self, unit_id: str) -> Unit | None:
        async with self._conn.execute(f"SELECT {_UNIT} FROM units WHERE id = ?", (unit_id,)) as cur:
            row = await cur.fetchone()
        return _unit(row) if row is not None else None

    async def staff(self, login: str) -> UnitStaff | None:
        async with self._conn.execute(f"SELECT {_STAFF} FROM unit_staff WHERE login = ?", (login,)) as cur:
            row = await cur.fetchone()
        return _staff(row) if row is not None else None


class PgUnitBook:
    def __init__(self, pool: asyncpg.Pool, writer: BatchWriter) -> None:
        self._pool = pool
        self._writer = writer

    async def put_unit(self, unit: Unit) -> None:
        await self._writer.write([_put_unit(unit, "$")])

    async def put_staff(self, staff: UnitStaff) -> None:
        if await self.unit(staff.unit_id) is None:
            raise StoreError(f"no unit {staff.unit_id!r}")
        await self._writer.write([_put_staff(staff, "$")])

    async def units(self) -> list[Unit]:
        return [_unit(r) for r in await self._pool.fetch(f"SELECT {_UNIT} FROM units ORDER BY id")]

    async def unit(self, unit_id: str) -> Unit | None:
        row = await self._pool.fetchrow(f"SELECT {_UNIT} FROM units WHERE id = $1", unit_id)
        return _unit(row) if row is not None else None

    async def staff(self, login: str) -> UnitStaff | None:
        row = await self._pool.fetchrow(f"SELECT {_STAFF} FROM unit_staff WHERE login = $1", login)
        return _staff(row) if row is not None else None
