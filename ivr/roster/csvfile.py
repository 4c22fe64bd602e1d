"""A centre's seat list as CSV (one row a seat), checked whole before anything is written.

Columns (a header row names them, in any order; only id, name and uri are required):

    id,name,uri,team,leader,shift,skills,queues,password,wrapup_seconds
    1001,王芳,sip:1001@10.0.0.21,一班,是,白班,general:5;complaint:3,general;urgent,,

- team: a team's id or name; a name the store does not know creates the team (reported);
- leader: 是/yes/1 makes the seat its team's leader (one per team);
- shift: 白班, 小夜班 or 通宵夜班 (or empty);
- skills: name:level pairs separated by ";"; queues: queue names separated by ";";
- password: at least 8 characters, hashed at import (PBKDF2); empty keeps a seat's password.

Files saved by Excel in GB18030/GBK are read as well as UTF-8 (with or without BOM). Every
problem names its line (`seats.csv:17: shift: ...`); with any problem nothing is imported.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from ivr.passwords import hash_password
from ivr.records import SHIFTS, SeatRow, Team
from ivr.store.base import RosterBook

REQUIRED = ("id", "name", "uri")
COLUMNS = (*REQUIRED, "team", "leader", "shift", "skills", "queues", "password", "wrapup_seconds")
MAX_ROWS = 20_000  # a city's whole roster with room to spare; more is a wrong file
MIN_PASSWORD = 8
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_YES = ("是", "yes", "y", "1", "true", "组长", "班长")
_NO = ("", "否", "no", "n", "0", "false")


@dataclass
class Import:
    """What a file holds once checked: seats (passwords still in the clear, to be hashed), the
    teams to create, and every problem found."""

    seats: list[SeatRow] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)  # seat id -> password to hash
    new_teams: list[Team] = field(default_factory=list)
    leaders: dict[str, str] = field(default_factory=dict)  # team id -> seat id
    problems: list[str] = field(default_factory=list)


def decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError("neither UTF-8 nor GB18030 text")


def _pairs(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, sep, level = part.partition(":")
        if not sep or not name.strip() or not level.strip().isdigit():
            raise ValueError(
                f"expected name:level pairs separated by ';' (e.g. general:5;complaint:3), got {part!r}"
            )
        out[name.strip()] = int(level)
    return out


def check(
    data: bytes,
    *,
    name: str,
    queues: Collection[str],
    config_ids: Collection[str],
    teams: Collection[Team],
) -> Import:
    """Check a seats CSV against the line's queues, config.toml's seat ids and the store's teams."""
    out = Import()
    try:
        text = decode(data)
    except ValueError as exc:
        out.problems.append(f"{name}: {exc}")
        return out
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        out.problems.append(f"{name}:1: empty file (expected a header: {','.join(COLUMNS)})")
        return out
    header = [h.strip().lower() for h in header]
    unknown = [h for h in header if h not in COLUMNS]
    missing = [c for c in REQUIRED if c not in header]
    if unknown or missing:
        what = ([f"unknown columns {', '.join(unknown)}"] if unknown else []) + (
            [f"missing columns {', '.join(missing)}"] if missing else []
        )
        out.problems.append(f"{name}:1: {'; '.join(what)} (columns: {','.join(COLUMNS)})")
        return out
    by_name: Mapping[str, Team] = {t.name: t for t in teams}
    by_id: Mapping[str, Team] = {t.id: t for t in teams}
    created: dict[str, Team] = {}
    first_line: dict[str, int] = {}
    leader_line: dict[str, int] = {}
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(out.seats) + len(out.problems) >= MAX_ROWS:
            out.problems.append(f"{name}:{number}: more than {MAX_ROWS} rows")
            break
        where = f"{name}:{number}"
        if len(values) != len(header):
            out.problems.append(f"{where}: {len(values)} fields, the header has {len(header)}")
            continue
        row = {h: v.strip() for h, v in zip(header, values, strict=True)}
        problems: list[str] = []
        sid = row["id"]
        if not _ID.match(sid):
            problems.append(f"id: expected letters, digits, '.', '_' or '-' (up to 32), got {sid!r}")
        elif sid in config_ids:
            problems.append(f"id: seat {sid} is defined in config.toml (change it there)")
        elif sid in first_line:
            problems.append(f"id: seat {sid} already on line {first_line[sid]}")
        if not row["name"]:
            problems.append("name: empty")
        if not row["uri"].startswith(("sip:", "sips:")) or "@" not in row["uri"]:
            problems.append(f"uri: expected a SIP URI such as sip:1001@10.0.0.21, got {row['uri']!r}")
        shift = row.get("shift", "")
        if shift not in ("", *SHIFTS):
            problems.append(f"shift: expected one of {', '.join(SHIFTS)} or empty, got {shift!r}")
        try:
            skills = _pairs(row.get("skills", ""))
        except ValueError as exc:
            problems.append(f"skills: {exc}")
            skills = {}
        seat_queues = tuple(filter(None, (q.strip() for q in row.get("queues", "").split(";"))))
        for q in seat_queues:
            if q not in queues:
                problems.append(f"queues: no queue {q!r} (known: {', '.join(sorted(queues))})")
        password = row.get("password", "")
        if password and len(password) < MIN_PASSWORD:
            problems.append(f"password: at least {MIN_PASSWORD} characters")
        wrapup: float | None = None
        if row.get("wrapup_seconds", ""):
            try:
                wrapup = float(row["wrapup_seconds"])
                if not 0 <= wrapup <= 3600:
                    raise ValueError
            except ValueError:
                problems.append(
                    f"wrapup_seconds: expected seconds from 0 to 3600, got {row['wrapup_seconds']!r}"
                )
                wrapup = None
        leader = row.get("leader", "").lower()
        if leader not in _YES and leader not in _NO:
            problems.append(f"leader: expected 是 or empty, got {row['leader']!r}")
        team_id = ""
        if row.get("team", ""):
            t = by_id.get(row["team"]) or by_name.get(row["team"]) or created.get(row["team"])
            if t is None:
                t = created[row["team"]] = Team(row["team"], row["team"])
            team_id = t.id
        if leader in _YES:
            if not team_id:
                problems.append("leader: a team leader needs a team")
            elif team_id in leader_line:
                problems.append(
                    f"leader: team {row['team']} already has its leader on line {leader_line[team_id]}"
                )
            else:
                leader_line[team_id] = number
                out.leaders[team_id] = sid
        first_line.setdefault(sid, number)
        if problems:
            out.problems += [f"{where}: {p}" for p in problems]
            continue
        out.seats.append(
            SeatRow(sid, row["name"], row["uri"], team_id, shift, skills, seat_queues, "", wrapup)
        )
        if password:
            out.passwords[sid] = password
    out.new_teams = list(created.values())
    if not out.seats and not out.problems:
        out.problems.append(f"{name}: no seats (only a header)")
    return out


async def apply(store: RosterBook, checked: Import, teams: Collection[Team]) -> dict[str, int]:
    """Write a checked import in one transaction: passwords hashed on worker threads (PBKDF2
    releases the GIL), new teams created, leaders named. Returns counts for the report."""
    if checked.problems:
        raise ValueError("an import with problems is not written")
    ids = list(checked.passwords)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        loop = asyncio.get_running_loop()
        hashed = await asyncio.gather(
            *(loop.run_in_executor(pool, hash_password, checked.passwords[i]) for i in ids)
        )
    hashes = dict(zip(ids, hashed, strict=True))
    seats = [replace(s, password_hash=hashes.get(s.id, "")) for s in checked.seats]
    known = {t.id: t for t in teams}
    changed = {t.id: t for t in checked.new_teams}
    for team_id, seat_id in checked.leaders.items():
        base = changed.get(team_id) or known[team_id]
        changed[team_id] = replace(base, leader=seat_id)
    await store.put_seats(seats, teams=list(changed.values()), keep_passwords=True)
    return {"seats": len(seats), "passwords": len(hashes), "new_teams": len(checked.new_teams)}
