"""The audit trail in the store (`audit_log`, append-only): who signed in, failed, was locked
out or refused, who read a ticket, exported a report or played a recording, and what the
retention policy deleted. Nothing updates a row; housekeeping drops rows past the audit's own
retention period."""

from __future__ import annotations

from ivr.store.base import AuditEntry, AuditQuery
from ivr.store.dialect import Reader
from ivr.store.writer import BatchWriter

_COLUMNS = "at, actor, action, subject, address, detail"


class StoreAuditBook:
    def __init__(self, reader: Reader, writer: BatchWriter) -> None:
        self._reader = reader
        self._writer = writer

    def add(self, entry: AuditEntry) -> None:
        sql = self._reader.sql(f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)")
        args = (entry.at, entry.actor, entry.action, entry.subject, entry.address, entry.detail)
        self._writer.write_nowait([(sql, args)])

    async def flush(self) -> None:
        await self._writer.flush()

    async def search(self, query: AuditQuery) -> list[AuditEntry]:
        where = ["at >= ?", "at < ?"]
        args: list[object] = [query.since, query.until]
        for column, value in (("actor", query.actor), ("action", query.action), ("subject", query.subject)):
            if value:
                # a prefix: "seat:" finds every seat, "ticket." every ticket action
                where.append(f"substr({column}, 1, ?) = ?")
                args += [len(value), value]
        sql = (
            f"SELECT {_COLUMNS} FROM audit_log WHERE {' AND '.join(where)} ORDER BY at DESC, id DESC LIMIT ?"
        )
        rows = await self._reader.rows(sql, [*args, query.limit])
        return [AuditEntry(float(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]

    async def prune(self, before: float) -> None:
        await self._writer.write([(self._reader.sql("DELETE FROM audit_log WHERE at < ?"), (before,))])
