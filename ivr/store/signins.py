"""Failed sign-ins counted in the store (`signin_failures`), per account and per address, so
a lockout holds on every node of a centre and across restarts. One atomic upsert per failure:
guesses sent to several nodes at once are all counted."""

from __future__ import annotations

from ivr.store.base import FailureCount
from ivr.store.dialect import Reader
from ivr.store.writer import BatchWriter


class StoreSigninBook:
    def __init__(self, reader: Reader, writer: BatchWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def get(self, key: str) -> FailureCount | None:
        sql = "SELECT failures, last_failure FROM signin_failures WHERE key = ?"
        row = await self._reader.row(sql, (key,))
        return FailureCount(key, int(row[0]), float(row[1])) if row is not None else None

    async def fail(self, key: str, at: float, stale_before: float) -> FailureCount:
        sql = self._reader.sql(
            "INSERT INTO signin_failures (key, failures, last_failure) VALUES (?, 1, ?)"
            " ON CONFLICT (key) DO UPDATE SET failures = CASE WHEN signin_failures.last_failure < ?"
            " THEN 1 ELSE signin_failures.failures + 1 END, last_failure = excluded.last_failure"
        )
        await self._writer.write([(sql, (key, at, stale_before))])
        return await self.get(key) or FailureCount(key, 1, at)

    async def clear(self, key: str) -> None:
        await self._writer.write([(self._reader.sql("DELETE FROM signin_failures WHERE key = ?"), (key,))])

    async def prune(self, stale_before: float) -> None:
        sql = self._reader.sql("DELETE FROM signin_failures WHERE last_failure < ?")
        await self._writer.write([(sql, (stale_before,))])
