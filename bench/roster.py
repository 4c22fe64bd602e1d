"""Seats and teams at a centre's size: a 1,500-seat CSV (30 teams of 50, three shifts) checked
and imported into a real store, the roster read back, and the supervisor board over HTTP with
1,500 seats on it (whole, and filtered to one team), as the console serves it.

    PYTHONPATH=. python bench/roster.py [--seats 1500] [--passwords 100] [--boards 200]
    PYTHONPATH=. python bench/roster.py --store postgresql   # a private PostgreSQL in a temp dir

Targets: the import (without passwords) under 5 s, the board p99 under 100 ms.
Passwords are PBKDF2 (~0.1 s each on one core, hashed on all cores), so `--passwords` says how
many rows carry one; the figure per password is printed separately.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from figures import percentile, print_table  # noqa: E402 - bench/ is the script's folder

from agents.acd import Acd  # noqa: E402
from agents.console import Console  # noqa: E402
from agents.eventlog import EventLog  # noqa: E402
from agents.web.server import ConsoleServer  # noqa: E402
from ivr.bus import Bus  # noqa: E402
from ivr.config import parse  # noqa: E402
from ivr.records import Offer, RingOutcome  # noqa: E402
from ivr.roster import apply, check, read  # noqa: E402
from ivr.store import open_store  # noqa: E402

SHIFTS = ("白班", "小夜班", "通宵夜班")


class _Answers:
    async def ring(self, offer: Offer, timeout: float) -> RingOutcome:
        return "answered"


def centre_csv(seats: int, passwords: int) -> bytes:
    rows = ["id,name,uri,team,leader,shift,skills,queues,password"]
    for i in range(seats):
        sid = 20000 + i
        leader = "是" if i % 50 == 0 else ""
        password = f"seat-{sid}-pw" if i < passwords else ""
        rows.append(
            f"{sid},话务员{i},sip:{sid}@10.1.{i // 250}.{i % 250},{i // 50 + 1}班,{leader},"
            f"{SHIFTS[i % 3]},general:{i % 5 + 1};complaint:{i % 3},general;urgent,{password}"
        )
    return ("\n".join(rows) + "\n").encode()


async def run(args: argparse.Namespace, where: str, work: Path) -> dict[str, object]:
    raw = {
        "web": {"bind": "127.0.0.1", "port": 0, "supervisor_password": "boss"},
        "store": {"path": str(work / "roster.db"), "url": where if "://" in where else ""},
        "queues": {"general": {}, "urgent": {}},
        "seats": [],
    }
    settings = parse(raw, work / "config.toml")
    store = await open_store(where)
    figures: dict[str, object] = {"store": store.location.split("?")[0]}
    try:
        data = centre_csv(args.seats, args.passwords)
        t0 = time.perf_counter()
        checked = check(data, name="seats.csv", queues=settings.queues, config_ids=(), teams=())
        t1 = time.perf_counter()
        assert not checked.problems, checked.problems[:5]
        passwords, checked.passwords = checked.passwords, {}
        counts = await apply(store.roster, checked, ())
        t2 = time.perf_counter()
        roster = await read(store, ())
        t3 = time.perf_counter()
        checked.passwords = passwords  # the same file again, now with its passwords hashed
        await apply(store.roster, checked, roster.teams.values())
        t4 = time.perf_counter()
        per = (t4 - t3) / max(1, len(passwords))
        figures |= {
            "seats imported": f"{counts['seats']} in {len(roster.teams)} teams",
            "CSV check": f"{(t1 - t0) * 1000:.0f} ms",
            "import written (one transaction)": f"{(t2 - t1) * 1000:.0f} ms",
            "roster read back": f"{(t3 - t2) * 1000:.0f} ms",
            f"the same import with {len(passwords)} passwords": f"{t4 - t3:.1f} s ({per * 1000:.0f} ms each)",
        }
        acd = Acd(settings.queues, roster.seats.values(), _Answers(), events=EventLog(store))
        bus = Bus(settings.mqtt, store)
        acd_console = Console(acd, store, bus)
        acd_console.attach()
        await acd.start()
        for i, seat_id in enumerate(list(acd.seats)[: args.seats // 2]):  # half the centre signed in
            acd.seat_command(seat_id, "login")
            if i % 3:
                acd.seat_command(seat_id, "ready")
        server = ConsoleServer(settings, acd, store, bus, EventLog(store), acd_console)
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=server.url.rstrip("/"), timeout=10) as http:
                login = await http.post("/api/login", json={"role": "supervisor", "password": "boss"})
                headers = {"authorization": f"Bearer {login.json()['token']}"}
                for label, params in (("board, all 1,500 seats", {}), ("board, one team", {"team": "7班"})):
                    took: list[float] = []
                    size = 0
                    for _ in range(args.boards):
                        s = time.perf_counter()
                        r = await http.get("/api/board", params=params, headers=headers)
                        took.append((time.perf_counter() - s) * 1000)
                        size = len(r.content)
                        assert r.status_code == 200, r.text
                    figures[f"{label}: p50 / p99 (KB)"] = (
                        f"{percentile(took, 50):.1f} ms / {percentile(took, 99):.1f} ms ({size // 1024} KB)"
                    )
        finally:
            await server.stop()
            await acd.stop()
    finally:
        await store.close()
    return figures


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seats", type=int, default=1500)
    p.add_argument("--passwords", type=int, default=100, help="rows that carry a password to hash")
    p.add_argument("--boards", type=int, default=200, help="board requests timed")
    p.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.store == "postgresql":
            from ivr.store.pgserver import PgServer

            folder = tempfile.mkdtemp(prefix="hotline-bench-pg-")  # its own: the server's account reads it
            try:
                with PgServer(folder, settings={"fsync": "off"}) as server:
                    server.create_database("bench")
                    figures = await run(args, server.url("bench"), work)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        else:
            figures = await run(args, str(work / "roster.db"), work)
    print_table(figures)


if __name__ == "__main__":
    asyncio.run(main())
