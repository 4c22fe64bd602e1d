"""Forgetting citizens' personal data past the centre's retention period (`[retention]`).

A closed ticket last changed before the cutoff keeps what the centre's figures need (number,
times, categories, unit, urgency, status, operator, survey answers, the reply's result) and
loses what identifies or describes the citizen: the caller's number, the address, the
complaint text, the call's transcript and context, the unit's reply text, and the same fields
in its history (old and new values) and its events' notes. Calls without a ticket, or whose
ticket was forgotten, lose the caller's number; so do the follow-up tasks of forgotten tickets.
"""

from __future__ import annotations

import json
from typing import Any

from ivr.store.dialect import Reader
from ivr.store.writer import BatchWriter, Statement

PERSONAL = ("caller", "address", "description", "context", "reply")
BATCH = 500  # tickets forgotten per transaction


class StorePersonalData:
    def __init__(self, reader: Reader, writer: BatchWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def forget(self, closed_before: float, at: float, limit: int = BATCH) -> list[str]:
        """Blank the personal fields of up to `limit` closed tickets last changed before
        `closed_before`, in one transaction; returns their ids (the caller audits them)."""
        rows = await self._reader.rows(
            "SELECT id, reply FROM tickets WHERE status = 'closed' AND updated_at < ? AND forgotten_at = 0"
            " ORDER BY updated_at LIMIT ?",
            (closed_before, limit),
        )
        if not rows:
            return []
        ids = [str(r[0]) for r in rows]
        sql = self._reader.sql
        statements: list[Statement] = []
        for ticket_id, reply in rows:
            kept = {k: v for k, v in _json(reply).items() if k == "result"}
            statements.append(
                (
                    sql(
                        "UPDATE tickets SET caller = '', address = '', description = '', context = '{}',"
                        " reply = ?, forgotten_at = ? WHERE id = ?"
                    ),
                    (json.dumps(kept, ensure_ascii=False), at, ticket_id),
                )
            )
        marks = ", ".join("?" for _ in ids)
        history = await self._reader.rows(
            f"SELECT id, changes FROM ticket_history WHERE ticket_id IN ({marks})", ids
        )
        for row_id, changes in history:
            left = {k: v for k, v in _json(changes).items() if k not in PERSONAL}
            statements.append(
                (
                    sql("UPDATE ticket_history SET changes = ?, note = '' WHERE id = ?"),
                    (json.dumps(left, ensure_ascii=False), row_id),
                )
            )
        statements.append((sql(f"UPDATE followups SET caller = '' WHERE ticket_id IN ({marks})"), tuple(ids)))
        statements.append((sql(f"UPDATE calls SET caller = '' WHERE ticket_id IN ({marks})"), tuple(ids)))
        await self._writer.write(statements)
        return ids

    async def forget_calls(self, before: float) -> int:
        """Blank the caller's number of calls without a ticket that started before `before`."""
        where = "started_at < ? AND caller != '' AND ticket_id = ''"
        row = await self._reader.row(f"SELECT count(*) FROM calls WHERE {where}", (before,))
        count = int(row[0]) if row else 0
        if count:
            await self._writer.write(
                [(self._reader.sql(f"UPDATE calls SET caller = '' WHERE {where}"), (before,))]
            )
        return count


def _json(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
