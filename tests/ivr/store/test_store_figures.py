"""The after-call figures as aggregate queries on both stores (ivr/store/figures.py): a history
written before the figures' columns existed is filled by the migration from the history itself,
at a city's size (20,000 tickets, ~65,000 events), and counted right per unit, category and
district; the post-call survey per operator likewise. No timing here (bench/tickets.py times it)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
from backends import Backend

from ivr.records import Unit
from ivr.store import Store, pgschema, schema

UNITS = ("朝阳区城管委", "海淀区水务局", "东城区住建委", "西城区交通委")
DISTRICTS = {
    "朝阳区城管委": "朝阳区",
    "海淀区水务局": "海淀区",
    "东城区住建委": "东城区",
    "西城区交通委": "西城区",
}
CATEGORIES = ("城市管理", "水务", "住房")
ANSWERS = ("满意", "基本满意", "不满意")
N = 20_000
COUNTS = ("received", "replied", "on_time", "returned", "reopened", "followups", "solved", "satisfied")


def _history(i: int) -> tuple[tuple[Any, ...], list[tuple[Any, ...]], dict[str, list[int]]]:
    """One ticket's row, its history rows, and what each unit's counts gain from it."""
    tid, unit, at = f"T{i:06d}", UNITS[i % 4], 10_000.0 + i
    gain: dict[str, list[int]] = {}

    def count(u: str, name: str) -> None:
        gain.setdefault(u, [0] * len(COUNTS))[COUNTS.index(name)] += 1

    rows: list[tuple[Any, ...]] = [(tid, at, "seat:1001", {"status": [None, "open"]}, "")]
    sent = {"status": ["open", "dispatched"], "unit": ["", unit], "due_at": [0, at + 100]}
    rows.append((tid, at + 1, "seat:1001", sent, "dispatch"))
    count(unit, "received")
    due = at + 100
    if i % 10 == 0:  # returned once, then to the next unit
        rows.append((tid, at + 2, "unit", {"status": ["dispatched", "returned"]}, "return"))
        count(unit, "returned")
        unit, due = UNITS[(i + 1) % 4], at + 103
        again = {
            "status": ["returned", "dispatched"],
            "unit": [UNITS[i % 4], unit],
            "due_at": [at + 100, due],
        }
        rows.append((tid, at + 3, "desk", again, "redispatch"))
        count(unit, "received")
    reply_at = at + (50 if i % 3 else 150)
    rows.append((tid, reply_at, "unit", {"status": ["dispatched", "replied"]}, "reply"))
    count(unit, "replied")
    if reply_at <= due:
        count(unit, "on_time")
    if i % 2 == 0:  # half are followed up already
        answer = {"solved": i % 4 == 0, "satisfaction": ANSWERS[i % 3]}
        rows.append((tid, at + 200, "followup:line", {"survey": [{}, {"followup": answer}]}, "followup"))
        count(unit, "followups")
        count(unit, "solved") if answer["solved"] else None
        count(unit, "satisfied") if answer["satisfaction"] != "不满意" else None
        if not answer["solved"] or answer["satisfaction"] == "不满意":
            rows.append((tid, at + 201, "followup:line", {"status": ["replied", "reopened"]}, "reopen"))
            count(unit, "reopened")
    survey = json.dumps({"satisfaction": ANSWERS[i % 3]} if i % 5 == 0 else {}, ensure_ascii=False)
    ticket = (
        tid,
        "13800000000",
        "phone",
        at,
        at,
        CATEGORIES[i % 3],
        unit,
        "replied",
        f"10{i % 7:02d}",
        survey,
    )
    return ticket, [(t, a, who, json.dumps(c, ensure_ascii=False), e) for t, a, who, c, e in rows], gain


def _city() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], dict[str, list[int]]]:
    tickets, history, expected = [], [], {}
    for i in range(N):
        ticket, rows, gain = _history(i)
        tickets.append(ticket)
        history += rows
        for unit, g in gain.items():
            expected[unit] = [a + b for a, b in zip(expected.get(unit, [0] * len(COUNTS)), g, strict=True)]
    return tickets, history, expected


_TICKET = (
    "INSERT INTO tickets (id, caller, channel, created_at, updated_at, category1, unit, status, operator,"
    " survey) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
)
_ROW = "INSERT INTO ticket_history (ticket_id, at, actor, changes, event) VALUES ($1, $2, $3, $4, $5)"


def _mine(migrations: tuple[str, ...]) -> int:
    return next(i for i, m in enumerate(migrations) if "ticket_history_at" in m)


async def _write_before_the_figures_columns(backend: Backend, tickets: list[Any], history: list[Any]) -> None:
    """A store as the program before migration 10 left it, with a city's history in it."""
    if backend.name == "sqlite":
        before = schema.MIGRATIONS[: _mine(schema.MIGRATIONS)]
        Path(backend.where).parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(backend.where) as raw:
            for migration in before:
                for statement in migration.split(";"):
                    if statement.strip():
                        raw.execute(statement)
            raw.execute(f"PRAGMA user_version = {len(before)}")
            raw.executemany(_qs(_TICKET), tickets)
            raw.executemany(_qs(_ROW), history)
        return
    before = pgschema.MIGRATIONS[: _mine(pgschema.MIGRATIONS)]
    conn = await asyncpg.connect(backend.where)
    try:
        async with conn.transaction():
            await conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", len(before))
            for migration in before:
                if migration.strip():
                    await conn.execute(migration)
            await conn.executemany(_TICKET, tickets)
            await conn.executemany(_ROW, history)
    finally:
        await conn.close()


def _qs(sql: str) -> str:
    """$1..$10 placeholders as SQLite's ?."""
    for n in range(10, 0, -1):
        sql = sql.replace(f"${n}", "?")
    return sql


async def test_a_citys_history_is_counted_in_the_database_after_the_migration(backend: Backend) -> None:
    tickets, history, expected = _city()
    await _write_before_the_figures_columns(backend, tickets, history)
    store: Store = await backend.open()
    try:
        for unit, district in DISTRICTS.items():
            await store.units.put_unit(Unit(f"u{len(unit)}{district}", unit, "委办局", district))
        got = {c.name: [getattr(c, k) for k in COUNTS] for c in await store.tickets.event_counts(0.0, 1e9)}
        assert got == expected
        by_district = {c.name: c.received for c in await store.tickets.event_counts(0.0, 1e9, "district")}
        assert by_district == {DISTRICTS[u]: counts[0] for u, counts in expected.items()}
        categories = {c.name: c.received for c in await store.tickets.event_counts(0.0, 1e9, "category")}
        assert sum(categories.values()) == N + N // 10 and set(categories) == set(CATEGORIES)
        # a range: only the first 1,000 tickets' events (each ticket's events lie within 201 s)
        first = await store.tickets.event_counts(0.0, 10_000.0 + 1000)
        assert sum(c.received for c in first) < sum(v[0] for v in expected.values()) // 10
        surveys = await store.tickets.survey_counts(0.0, 1e9)
        assert sum(sum(a.values()) for a in surveys.values()) == N // 5
        assert set(surveys) == {f"10{k:02d}" for k in range(7)}
        # rows written from now on carry their unit and deadline themselves
        t = await store.tickets.create("13900000000", status="open", category1="水务")
        sent = {"status": "dispatched", "unit": UNITS[0], "due_at": 5.0}
        await store.tickets.update(t.id, sent, actor="a", event="dispatch")
        await store.tickets.update(t.id, {"status": "replied"}, actor="u", event="reply")
        after = {c.name: c for c in await store.tickets.event_counts(0.0, 1e12)}
        assert after[UNITS[0]].received == expected[UNITS[0]][0] + 1
        assert after[UNITS[0]].replied == expected[UNITS[0]][1] + 1
        assert after[UNITS[0]].on_time == expected[UNITS[0]][2]  # replied after its deadline of 5.0
    finally:
        await store.close()
