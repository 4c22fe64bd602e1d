"""Quality checks (质检) in the store, for SQLite and PostgreSQL alike: the review queue
(`qa_samples`, one row per call, so a call is sampled once), every review ever saved
(`qa_reviews`, append-only: the newest row of a call is its score) and appeals (`qa_appeals`,
one per call: the primary key is what makes an appeal once-only on every node).

SQL is written once with `?` marks; PostgreSQL's `$n` are made from them."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

import aiosqlite

from ivr.records import AnsweredCall, Appeal, Review, Sample, SeatFigures
from ivr.store.base import StoreError
from ivr.store.writer import BatchWriter, Statement

if TYPE_CHECKING:
    import asyncpg

_SAMPLE = "call_id, seat_id, ticket_id, ended_at, reasons, sampled_at, state"
_REVIEW = (
    "id, call_id, seat_id, ticket_id, reviewer, at, ended_at, score, marks, fatal, comment, checklist,"
    " after_appeal"
)
_APPEAL = "call_id, seat_id, review_id, reason, at, decision, decided_by, decided_at, note"
_LATEST = "SELECT MAX(id) FROM qa_reviews GROUP BY call_id"
_ANSWERED = (
    "SELECT c.call_id, c.seat_id, c.ticket_id, COALESCE(c.answered_at, c.started_at), c.ended_at,"
    " COALESCE(t.category1, ''), COALESCE({choice}, ''), COALESCE({satisfaction}, '')"
    " FROM calls c LEFT JOIN tickets t ON t.id = c.ticket_id"
    " WHERE c.seat_id <> '' AND c.ended_at >= ? AND c.ended_at < ? ORDER BY c.ended_at, c.call_id LIMIT ?"
)
_FIGURES = (
    "SELECT r.seat_id, COUNT(*), SUM(r.score), SUM(CASE WHEN r.fatal_count > 0 THEN 1 ELSE 0 END),"
    " COUNT(a.call_id), SUM(CASE WHEN a.decision = 'revised' THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN r.score < ? THEN 1 ELSE 0 END)"
    " FROM qa_reviews r LEFT JOIN qa_appeals a ON a.call_id = r.call_id"
    f" WHERE r.id IN ({_LATEST}) AND r.ended_at >= ? AND r.ended_at < ?"
    " GROUP BY r.seat_id ORDER BY r.seat_id"
)


def _sample(r: Any) -> Sample:
    return Sample(r[0], r[1], r[2], float(r[3]), tuple(json.loads(r[4])), float(r[5]), r[6])


def _review(r: Any) -> Review:
    return Review(
        int(r[0]), r[1], r[2], r[3], r[4], float(r[5]), float(r[6]), float(r[7]), json.loads(r[8]),
        tuple(json.loads(r[9])), r[10], r[11], bool(r[12]),
    )  # fmt: skip


def _appeal(r: Any) -> Appeal:
    return Appeal(r[0], r[1], int(r[2]), r[3], float(r[4]), r[5], r[6], float(r[7]), r[8])


def _review_row(v: Review) -> Statement:
    sql = (
        "INSERT INTO qa_reviews (call_id, seat_id, ticket_id, reviewer, at, ended_at, score, marks, fatal,"
        " fatal_count, comment, checklist, after_appeal) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    marks = json.dumps(dict(v.marks), ensure_ascii=False)
    values = (
        v.call_id, v.seat_id, v.ticket_id, v.reviewer, v.at, v.ended_at, v.score, marks,
        json.dumps(list(v.fatal)), len(v.fatal), v.comment, v.checklist, int(v.after_appeal),
    )  # fmt: skip
    return sql, values


class _Book:
    """The queries both stores share; subclasses run them their own way."""

    _choice = ""
    _satisfaction = ""

    def __init__(self, writer: BatchWriter, now: Callable[[], float]) -> None:
        self._writer = writer
        self._now = now

    async def _rows(self, sql: str, *args: Any) -> list[Any]:
        raise NotImplementedError

    def _sql(self, sql: str) -> str:
        return sql

    async def _write(self, statements: Sequence[Statement]) -> None:
        await self._writer.write([(self._sql(s), a) for s, a in statements])

    async def answered(self, since: float, until: float, limit: int) -> list[AnsweredCall]:
        """Calls an operator answered that ended in [since, until), oldest first, with what
        their tickets say."""
        sql = _ANSWERED.format(choice=self._choice, satisfaction=self._satisfaction)
        rows = await self._rows(sql, since, until, limit)
        return [
            AnsweredCall(r[0], r[1], r[2], float(r[3]), float(r[4]), r[5], str(r[6]), str(r[7])) for r in rows
        ]

    async def add_samples(self, samples: Sequence[Sample]) -> int:
        """Queue calls for review; a call queued before stays as it was. How many were new."""
        if not samples:
            return 0
        ids = [s.call_id for s in samples]
        known: set[str] = set()
        for i in range(0, len(ids), 500):  # within both databases' limits on parameters
            chunk = ids[i : i + 500]
            sql = f"SELECT call_id FROM qa_samples WHERE call_id IN ({', '.join('?' * len(chunk))})"
            known.update(r[0] for r in await self._rows(sql, *chunk))
        sql = (
            f"INSERT INTO qa_samples ({_SAMPLE}) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (call_id) DO NOTHING"
        )
        fresh = [s for s in samples if s.call_id not in known]
        await self._write(
            [
                (
                    sql,
                    (
                        s.call_id,
                        s.seat_id,
                        s.ticket_id,
                        s.ended_at,
                        json.dumps(list(s.reasons)),
                        s.sampled_at,
                        s.state,
                    ),
                )
                for s in fresh
            ]
        )
        return len(fresh)

    async def sample(self, call_id: str) -> Sample | None:
        rows = await self._rows(f"SELECT {_SAMPLE} FROM qa_samples WHERE call_id = ?", call_id)
        return _sample(rows[0]) if rows else None

    async def queue(self, state: str = "queued", limit: int = 200) -> list[Sample]:
        """The review queue, the calls that ended first first."""
        sql = f"SELECT {_SAMPLE} FROM qa_samples WHERE state = ? ORDER BY ended_at, call_id LIMIT ?"
        return [_sample(r) for r in await self._rows(sql, state, limit)]

    async def add_review(self, review: Review) -> Review:
        """Keep a review (a new row: earlier ones stay as history); its call leaves the queue."""
        done = "UPDATE qa_samples SET state = 'reviewed' WHERE call_id = ?"
        await self._write([_review_row(review), (done, (review.call_id,))])
        latest = await self.reviews(review.call_id)
        return latest[-1]

    async def reviews(self, call_id: str) -> list[Review]:
        """Every review of a call, oldest first (the last is its score)."""
        sql = f"SELECT {_REVIEW} FROM qa_reviews WHERE call_id = ? ORDER BY id"
        return [_review(r) for r in await self._rows(sql, call_id)]

    async def scores(self, seat_id: str, since: float, until: float, limit: int = 500) -> list[Review]:
        """The score (newest review) of each reviewed call that ended in [since, until), of one
        seat ("" for all), newest call first."""
        sql = (
            f"SELECT {_REVIEW} FROM qa_reviews WHERE id IN ({_LATEST}) AND (seat_id = ? OR ? = '')"
            " AND ended_at >= ? AND ended_at < ? ORDER BY ended_at DESC, id DESC LIMIT ?"
        )
        return [_review(r) for r in await self._rows(sql, seat_id, seat_id, since, until, limit)]

    async def appeal(self, call_id: str) -> Appeal | None:
        rows = await self._rows(f"SELECT {_APPEAL} FROM qa_appeals WHERE call_id = ?", call_id)
        return _appeal(rows[0]) if rows else None

    async def appeals(self, pending: bool = True, limit: int = 200) -> list[Appeal]:
        """Appeals, oldest first: the undecided ones, or every one."""
        where = "WHERE decision = ''" if pending else ""
        sql = f"SELECT {_APPEAL} FROM qa_appeals {where} ORDER BY at, call_id LIMIT ?"
        return [_appeal(r) for r in await self._rows(sql, limit)]

    async def appeals_for(self, call_ids: Sequence[str]) -> list[Appeal]:
        """The appeals of these calls (those that have one)."""
        found: list[Appeal] = []
        for i in range(0, len(call_ids), 500):  # within both databases' limits on parameters
            chunk = list(call_ids[i : i + 500])
            sql = f"SELECT {_APPEAL} FROM qa_appeals WHERE call_id IN ({', '.join('?' * len(chunk))})"
            found.extend(_appeal(r) for r in await self._rows(sql, *chunk))
        return found

    async def add_appeal(self, appeal: Appeal) -> bool:
        """Keep an operator's appeal; False when the call was appealed before (once only)."""
        sql = f"INSERT INTO qa_appeals ({_APPEAL}) VALUES (?, ?, ?, ?, ?, '', '', 0, '')"
        try:
            await self._write(
                [(sql, (appeal.call_id, appeal.seat_id, appeal.review_id, appeal.reason, appeal.at))]
            )
        except StoreError:
            return False
        return True

    async def figures(self, since: float, until: float, pass_score: float) -> list[SeatFigures]:
        """Per seat, over calls that ended in [since, until): reviewed calls, their scores'
        sum, those with a fatal error, appealed, changed on appeal, and below `pass_score`."""
        rows = await self._rows(_FIGURES, pass_score, since, until)
        return [
            SeatFigures(
                r[0],
                int(r[1]),
                float(r[2] or 0),
                int(r[3] or 0),
                int(r[4] or 0),
                int(r[5] or 0),
                int(r[6] or 0),
            )
            for r in rows
        ]


def _decided(appeal: Appeal, decision: str, by: str, at: float, note: str) -> Appeal:
    return replace(appeal, decision=cast(Any, decision), decided_by=by, decided_at=at, note=note)


class SqliteReviewBook(_Book):
    _choice = "json_extract(t.context, '$.choices.category')"
    _satisfaction = "json_extract(t.survey, '$.satisfaction')"

    def __init__(self, conn: aiosqlite.Connection, writer: BatchWriter, now: Callable[[], float]) -> None:
        super().__init__(writer, now)
        self._conn = conn
        self._lock = asyncio.Lock()  # one process owns the file: decisions are serialised here

    async def _rows(self, sql: str, *args: Any) -> list[Any]:
        async with self._conn.execute(sql, args) as cur:
            return list(await cur.fetchall())

    async def _write(self, statements: Sequence[Statement]) -> None:
        try:
            await super()._write(statements)
        except aiosqlite.IntegrityError as exc:
            raise StoreError(f"quality record taken: {exc}") from exc

    async def decide(
        self, call_id: str, decision: str, by: str, note: str, review: Review | None
    ) -> Appeal | None:
        """Decide an undecided appeal (with the new review when the score changes); None when
        there is none to decide (decided already, on any node)."""
        async with self._lock:
            appeal = await self.appeal(call_id)
            if appeal is None or appeal.decision:
                return None
            done = _decided(appeal, decision, by, self._now(), note)
            sql = (
                "UPDATE qa_appeals SET decision = ?, decided_by = ?, decided_at = ?, note = ?"
                " WHERE call_id = ?"
            )
            statements = [(sql, (decision, by, done.decided_at, note, call_id))]
            await self._write([*statements, *([_review_row(review)] if review is not None else [])])
            return done


def _dollars(sql: str) -> str:
    count = iter(range(1, 1000))
    return re.sub(r"\?", lambda _: f"${next(count)}", sql)


class PgReviewBook(_Book):
    _choice = "(t.context::json -> 'choices' ->> 'category')"
    _satisfaction = "(t.survey::json ->> 'satisfaction')"

    def __init__(self, pool: asyncpg.Pool, writer: BatchWriter, now: Callable[[], float]) -> None:
        super().__init__(writer, now)
        self._pool = pool

    def _sql(self, sql: str) -> str:
        return _dollars(sql)

    async def _rows(self, sql: str, *args: Any) -> list[Any]:
        return list(await self._pool.fetch(_dollars(sql), *args))

    async def _write(self, statements: Sequence[Statement]) -> None:
        import asyncpg

        try:
            await super()._write(statements)
        except asyncpg.UniqueViolationError as exc:
            raise StoreError(f"quality record taken: {exc}") from exc

    async def decide(
        self, call_id: str, decision: str, by: str, note: str, review: Review | None
    ) -> Appeal | None:
        at = self._now()
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "UPDATE qa_appeals SET decision = $2, decided_by = $3, decided_at = $4, note = $5"
                f" WHERE call_id = $1 AND decision = '' RETURNING {_APPEAL}",
                call_id, decision, by, at, note,
            )  # fmt: skip
            if row is None:
                return None
            if review is not None:
                sql, values = _review_row(review)
                await conn.execute(_dollars(sql), *values)
            return _appeal(row)
