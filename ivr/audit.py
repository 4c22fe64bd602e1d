"""Who did what to citizens' data: the audit trail's writer and its command (`ivr audit`).

Every entry goes to the store (`audit_log`, append-only, shared by a centre's nodes) and to the
log as one line, so a security review finds sign-ins, failures, lockouts, refusals, ticket reads,
exports, recording plays and the retention policy's deletions in one place. Entries never carry
a caller's number: subjects are ticket ids, file names and logins."""

from __future__ import annotations

import argparse
import asyncio
import csv
import logging
import sys
import time
from collections.abc import Callable
from datetime import datetime

from ivr import config as config_mod
from ivr.privacy import mask
from ivr.store import AuditBook, AuditEntry, AuditQuery

log = logging.getLogger("ivr.audit")


class AuditTrail:
    def __init__(self, book: AuditBook, now: Callable[[], float] = time.time) -> None:
        self._book = book
        self._now = now

    def record(self, actor: str, action: str, subject: str = "", address: str = "", detail: str = "") -> None:
        """Queue one entry (committed with the store's next batch) and log it. A number in the
        subject or detail (a search by caller) is masked: the trail is read by more people than
        the tickets."""
        entry = AuditEntry(self._now(), actor, action, mask(subject[:200]), address[:64], mask(detail[:500]))
        log.info("audit: %s %s %s from %s %s", actor, action, subject or "-", address or "-", detail)
        try:
            self._book.add(entry)
        except RuntimeError:  # the store is closing: the log line above is what remains
            log.warning("audit entry not stored (store closed): %s %s", actor, action)

    async def flush(self) -> None:
        await self._book.flush()

    async def search(self, query: AuditQuery) -> list[AuditEntry]:
        return await self._book.search(query)


def _day(text: str) -> float:
    try:
        return datetime.strptime(text, "%Y-%m-%d").timestamp()
    except ValueError as exc:
        raise SystemExit(f"ivr audit: expected a date such as 2026-11-30, got {text!r}") from exc


def cmd_audit(args: argparse.Namespace) -> int:
    from ivr.store import open_store

    if not 1 <= args.limit <= 1_000_000:
        print(f"ivr audit: --limit: expected 1 to 1000000, got {args.limit}", file=sys.stderr)
        return 2
    try:
        settings = config_mod.load(args.config, files=False)
    except config_mod.ConfigError as exc:
        for problem in exc.problems:
            print(f"ivr: {problem}", file=sys.stderr)
        return 2
    query = AuditQuery(
        since=_day(args.since) if args.since else 0.0,
        until=_day(args.until) + 86400 if args.until else float("inf"),
        actor=args.actor,
        action=args.action,
        subject=args.subject,
        limit=args.limit,
    )

    async def main() -> list[AuditEntry]:
        store = await open_store(settings.store.url or settings.resolve(settings.store.path))
        try:
            return await store.audit.search(query)
        finally:
            await store.close()

    found = asyncio.run(main())
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["at", "actor", "action", "subject", "address", "detail"])
    for e in found:
        at = datetime.fromtimestamp(e.at).isoformat(timespec="seconds")
        out.writerow([at, e.actor, e.action, e.subject, e.address, e.detail])
    return 0


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    a = sub.add_parser("audit", help="print the audit trail (sign-ins, reads, exports, deletions) as CSV")
    a.add_argument("--config", default="config.toml")
    a.add_argument("--since", default="", help="first day, e.g. 2026-11-01 (default: the beginning)")
    a.add_argument("--until", default="", help="last day, included (default: today)")
    a.add_argument("--actor", default="", help='who, or a prefix such as "seat:"')
    a.add_argument("--action", default="", help='what, or a prefix such as "signin" or "ticket."')
    a.add_argument("--subject", default="", help="a ticket id, recording or login")
    a.add_argument("--limit", type=int, default=1000, help="newest first, at most this many")
    a.set_defaults(func=cmd_audit)
