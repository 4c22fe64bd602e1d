"""The line's follow-up call (回访) over real SIP: `ivr serve` dials a citizen (an `ivr seat`
softphone in its own process that answers and presses keys), runs flows/followup.yaml on the
outbound leg, and the answer reopens the ticket to its unit (not solved) or closes it."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
from sip_peers import free_port, seat_phone, serve, write_config

from ivr.records import Unit
from ivr.store import open_store

pytestmark = pytest.mark.sip
CITIZEN = "13800138000"


async def _replied_ticket(db: Path) -> str:
    store = await open_store(db)
    try:
        await store.units.put_unit(Unit("cy-cgw", "朝阳区城管委"))
        t = await store.tickets.create(
            CITIZEN, status="replied", unit="朝阳区城管委", description="路灯不亮",
            reply={"done": "已更换灯泡", "result": "solved"},
        )  # fmt: skip
        await store.followups.add(t.id, CITIZEN, 0.0)
        return t.id
    finally:
        await store.close()


def _wait_status(db: Path, ticket_id: str, status: str, timeout: float) -> tuple[str, str]:
    deadline = time.monotonic() + timeout
    row: tuple[str, str] = ("", "")
    while time.monotonic() < deadline:
        with sqlite3.connect(db) as raw:
            got = raw.execute("SELECT status, survey FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
        if got is not None:
            row = (str(got[0]), str(got[1]))
            if row[0] == status:
                return row
        time.sleep(0.5)
    raise AssertionError(f"ticket {ticket_id} is {row[0]!r}, not {status!r}, after {timeout} s")


@pytest.mark.parametrize(
    ("keys", "status", "words"),
    [
        ("wait 9; dtmf 2; wait 5; dtmf 3; wait 6", "reopened", "未解决，不满意"),
        ("wait 9; dtmf 1; wait 5; dtmf 1; wait 6", "closed", "已解决，满意"),
    ],
)
def test_follow_up_call_reopens_or_closes(tmp_path: Path, keys: str, status: str, words: str) -> None:
    citizen_port = free_port()
    extra = f"""
[followup]
trunk = "127.0.0.1:{citizen_port}"
hours = ["00:00-24:00"]
every_seconds = 1
"""
    cfg = write_config(tmp_path / "config.toml", sip_port=free_port(), extra=extra)
    db = tmp_path / "hotline.db"
    ticket_id = asyncio.run(_replied_ticket(db))
    phone = seat_phone(CITIZEN, citizen_port, answer_after=0.5, script=keys, max_calls=1, duration=90)
    try:
        with serve(cfg, duration=90) as server:
            _, survey = _wait_status(db, ticket_id, status, timeout=60)
            assert '"solved": ' + ("false" if status == "reopened" else "true") in survey
            server.wait_log("followup-" + ticket_id, timeout=5)
        with sqlite3.connect(db) as raw:
            sql = "SELECT note FROM ticket_history WHERE ticket_id = ? AND event != '' ORDER BY id"
            notes = [r[0] for r in raw.execute(sql, (ticket_id,))]
            task = raw.execute(
                "SELECT state, last_outcome FROM followups WHERE ticket_id = ?", (ticket_id,)
            ).fetchone()
        assert notes[0] == words and words in notes[1]  # the followup event, then reopen/close with it
        assert tuple(task) == ("done", "answered")
    finally:
        phone.terminate()
        phone.wait(10)
        if phone.stdout is not None:
            phone.stdout.close()
