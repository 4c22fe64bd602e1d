"""Teams and seats in the store, on both stores (a SQLite file, a PostgreSQL server)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from backends import Backend

from ivr.passwords import hash_password
from ivr.records import SeatRow, Team
from ivr.store import Store, StoreError


def _seat(sid: str, team: str = "t1", **kw: object) -> SeatRow:
    seat = SeatRow(sid, f"坐席{sid}", f"sip:{sid}@127.0.0.1", team)
    return replace(seat, **kw)  # type: ignore[arg-type]


async def test_teams_seats_and_seat_teams(store: Store, backend: Backend) -> None:
    await store.roster.put_team(Team("t1", "一班", "1009"))
    await store.roster.put_team(Team("t2", "二班"))
    with pytest.raises(StoreError, match="taken"):
        await store.roster.put_team(Team("t3", "一班"))
    hashed = hash_password("op-secret-1", iterations=1000)
    await store.roster.put_seats(
        [
            _seat("1001", shift="白班", skills={"general": 5}, queues=("general",), password_hash=hashed),
            _seat("1009", shift="小夜班"),
            _seat("2001", "t2", shift="通宵夜班"),
            _seat("3001", ""),
        ]
    )
    got = await store.roster.seat("1001")
    assert got is not None and got.skills == {"general": 5} and got.queues == ("general",)
    assert got.shift == "白班" and got.password_hash == hashed
    assert await store.seat_teams() == {"1001": "一班", "1009": "一班", "2001": "二班"}
    # an import without passwords keeps the seat's; a changed name lands
    await store.roster.put_seats([_seat("1001", name="王芳")], keep_passwords=True)
    again = await store.roster.seat("1001")
    assert again is not None and again.password_hash == hashed and again.name == "王芳"
    with pytest.raises(StoreError, match="shift"):
        await store.roster.put_seats([_seat("4001", shift="夜班")])
    with pytest.raises(StoreError, match="hash"):
        await store.roster.put_seats([_seat("4001", password_hash="plain")])
    with pytest.raises(StoreError, match="still has 2 seats"):
        await store.roster.delete_team("t1")
    await store.roster.delete_seat("1009")  # the team it led has no leader now
    assert {t.id: t.leader for t in await store.roster.teams()} == {"t1": "", "t2": ""}
    rows = await backend.rows("SELECT id FROM seats ORDER BY id")
    assert [r[0] for r in rows] == ["1001", "2001", "3001"]


async def test_config_seats_are_copied_and_replaced_as_a_set(store: Store) -> None:
    await store.roster.put_seats([_seat("1001"), _seat("5001")])
    await store.roster.sync_config([_seat("1001", source="config"), _seat("1002", source="config")])
    by_id = {s.id: s.source for s in await store.roster.seats()}
    assert by_id == {"1001": "config", "1002": "config", "5001": "store"}
    await store.roster.sync_config([_seat("1002", source="config")])  # 1001 left config.toml
    assert {s.id for s in await store.roster.seats()} == {"1002", "5001"}
    await store.roster.set_password("1002", hash_password("x" * 8, iterations=1000))  # config: not here
    got = await store.roster.seat("1002")
    assert got is not None and got.password_hash == ""
