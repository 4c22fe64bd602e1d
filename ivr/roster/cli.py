"""`ivr seats` and `ivr teams`: the centre's roster in the store.

ivr seats import seats.csv            # checked whole; every problem with its line; all or nothing
ivr seats list [--team 一班]
IVR_SEAT_PASSWORD=… ivr seats password 1001   # else asked for on the tty
ivr teams add t01 一班 --leader 1009
ivr teams list

config.toml's seats are copied into the store by `ivr serve` at start (ivr.roster.seats says how
the two merge); `import` refuses their ids. A running `ivr serve` reads the roster again every
minute (imported seats sign in, and take calls on a single-node queue); a centre's shared queue
routes to them once its nodes restart. The console's admin page applies its own changes at once."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import time
from pathlib import Path

from ivr import config as config_mod
from ivr.passwords import hash_password
from ivr.records import Team
from ivr.roster.csvfile import COLUMNS, MIN_PASSWORD, apply, check
from ivr.roster.seats import load
from ivr.store.base import StoreError

PASSWORD_ENV = "IVR_SEAT_PASSWORD"


async def _run(args: argparse.Namespace, settings: config_mod.Settings) -> int:
    from ivr.store import open_store  # the store package is heavy; help needs none of it

    store = await open_store(settings.store.url or str(settings.resolve(settings.store.path)))
    try:
        roster = await load(store, settings.seats)
        teams = await store.roster.teams()
        if args.roster_object == "seats" and args.seats_command == "import":
            path = Path(args.file)
            started = time.monotonic()
            data = await asyncio.to_thread(path.read_bytes)
            checked = check(
                data,
                name=path.name,
                queues=settings.queues,
                config_ids=roster.config_ids,
                teams=teams,
            )
            for problem in checked.problems:
                print(problem, file=sys.stderr)
            if checked.problems:
                print(f"ivr: {path}: {len(checked.problems)} problem(s); nothing imported", file=sys.stderr)
                return 1
            counts = await apply(store.roster, checked, teams)
            made = ", ".join(t.name for t in checked.new_teams)
            print(
                f"{path}: {counts['seats']} seats imported ({counts['passwords']} passwords set)"
                + (f", new teams: {made}" if made else "")
                + f" in {time.monotonic() - started:.1f} s"
            )
        elif args.roster_object == "seats" and args.seats_command == "password":
            row = await store.roster.seat(args.id)
            if row is None or row.source != "store":
                where = (
                    "config.toml (its password is set there)" if args.id in roster.config_ids else "the store"
                )
                print(f"ivr: seat {args.id} is not a seat of {where}", file=sys.stderr)
                return 2
            password = os.environ.get(PASSWORD_ENV) or getpass.getpass(f"password for seat {args.id}: ")
            if len(password) < MIN_PASSWORD:
                print(f"ivr: a seat password needs at least {MIN_PASSWORD} characters", file=sys.stderr)
                return 2
            await store.roster.set_password(args.id, await asyncio.to_thread(hash_password, password))
            print(f"seat {args.id}: password set")
        elif args.roster_object == "seats":
            names = {t.id: t.name for t in teams}
            for seat in roster.seats.values():
                team = names.get(seat.team, seat.team)
                if args.team and args.team not in (seat.team, team):
                    continue
                source = "config" if seat.id in roster.config_ids else "store"
                print(f"{seat.id}\t{seat.name}\t{seat.uri}\t{team}\t{seat.shift}\t{source}")
        elif args.teams_command == "add":
            if args.leader and args.leader not in roster.seats:
                print(f"ivr: no seat {args.leader}", file=sys.stderr)
                return 2
            await store.roster.put_team(Team(args.id, args.name, args.leader))
            print(f"team {args.id}: {args.name}" + (f", leader {args.leader}" if args.leader else ""))
        else:
            for t in teams:
                members = len(roster.team_seats(t.id))
                print(f"{t.id}\t{t.name}\t{t.leader}\t{members} seats")
    finally:
        await store.close()
    return 0


def cmd_roster(args: argparse.Namespace) -> int:
    try:
        settings = config_mod.load(args.config, files=False)  # an admin's machine needs no flows
    except config_mod.ConfigError as exc:
        for problem in exc.problems:
            print(f"ivr: {problem}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(args, settings))
    except (StoreError, OSError) as exc:
        print(f"ivr: {exc}", file=sys.stderr)
        return 2


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser("seats", help="the centre's seats in the store: import a CSV, list, set a password")
    s.add_argument("--config", default="config.toml")
    cmds = s.add_subparsers(dest="seats_command", required=True)
    i = cmds.add_parser("import", help="add or change seats from a CSV, checked whole (line numbers)")
    i.add_argument("file", help=f"CSV with a header of {','.join(COLUMNS)} (id, name, uri required)")
    p = cmds.add_parser("password", help=f"set a store seat's password (from ${PASSWORD_ENV} or the tty)")
    p.add_argument("id")
    ls = cmds.add_parser("list", help="every seat: config.toml's and the store's")
    ls.add_argument("--team", default="", help="only this team (id or name)")
    s.set_defaults(func=cmd_roster, roster_object="seats")
    t = sub.add_parser("teams", help="teams (班组) and their team leaders")
    t.add_argument("--config", default="config.toml")
    tc = t.add_subparsers(dest="teams_command", required=True)
    a = tc.add_parser("add", help="add or change a team")
    a.add_argument("id", help="short code, e.g. t01")
    a.add_argument("name", help="as the board shows it, e.g. 一班")
    a.add_argument("--leader", default="", help="the team leader's seat id")
    tc.add_parser("list", help="the teams with their leaders and sizes")
    t.set_defaults(func=cmd_roster, roster_object="teams")
