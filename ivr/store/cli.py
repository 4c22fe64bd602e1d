"""`ivr unit`: the units tickets are dispatched to, and their staff sign-ins, in the store;
`ivr taxonomy FILE`: a centre's taxonomy CSV checked against them (and `ivr serve` checks the
configured one, [understanding] taxonomy, the same way at start).

ivr unit add cy-cgw 朝阳区城管委 --kind 委办局 --district 朝阳区
IVR_UNIT_PASSWORD=… ivr unit staff wang --unit cy-cgw --name 王科员   # else asked for on the tty
ivr unit list

The unit's name is what tickets carry as their unit (the taxonomy's unit column): a ticket
dispatched to that name lands in the unit's inbox. Only a salted hash of a password is kept."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from pathlib import Path

from ivr import config as config_mod
from ivr.passwords import hash_password
from ivr.records import UNIT_KINDS, Unit, UnitStaff
from ivr.store.base import Store, StoreError

log = logging.getLogger(__name__)
PASSWORD_ENV = "IVR_UNIT_PASSWORD"
MIN_PASSWORD = 8


async def _run(args: argparse.Namespace, where: str) -> int:
    from ivr.store import open_store  # the package imports this module's siblings only

    store = await open_store(where)
    try:
        if args.unit_command == "add":
            await store.units.put_unit(Unit(args.id, args.name, args.kind, args.district))
            print(f"unit {args.id}: {args.name} ({args.kind})")
        elif args.unit_command == "staff":
            password = os.environ.get(PASSWORD_ENV) or getpass.getpass(f"password for {args.login}: ")
            if len(password) < MIN_PASSWORD:
                print(f"ivr: a unit password needs at least {MIN_PASSWORD} characters", file=sys.stderr)
                return 2
            hashed = await asyncio.to_thread(hash_password, password)
            await store.units.put_staff(UnitStaff(args.login, args.unit, args.name, hashed))
            print(f"staff {args.login} signs in for unit {args.unit}")
        else:
            for u in await store.units.units():
                print(f"{u.id}\t{u.name}\t{u.kind}\t{u.district}")
    finally:
        await store.close()
    return 0


def cmd_unit(args: argparse.Namespace) -> int:
    try:
        settings = config_mod.load(args.config, files=False)  # an admin's machine needs no flows
    except config_mod.ConfigError as exc:
        for problem in exc.problems:
            print(f"ivr: {problem}", file=sys.stderr)
        return 2
    where = settings.store.url or str(settings.resolve(settings.store.path))
    try:
        return asyncio.run(_run(args, where))
    except StoreError as exc:
        print(f"ivr: {exc}", file=sys.stderr)
        return 2


async def _unit_names(where: str) -> list[str]:
    from ivr.store import open_store

    store = await open_store(where)
    try:
        return [u.name for u in await store.units.units()]
    finally:
        await store.close()


async def check_taxonomy_units(s: config_mod.Settings, store: Store) -> None:
    """The centre's taxonomy names units the store knows (its other problems stop the config
    load already); raises ValueError with the file's lines. A store with no units yet is a
    centre still registering them: skipped with a warning."""
    if not s.understanding.taxonomy:
        return
    names = [u.name for u in await store.units.units()]
    if not names:
        log.warning("taxonomy units not checked: the store has no units yet (ivr unit add)")
        return
    from ivr.understanding.taxonomy import check

    _, problems = await asyncio.to_thread(check, s.resolve(s.understanding.taxonomy), names)
    if problems:
        more = f"; and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise ValueError(
            f"[understanding] taxonomy: {len(problems)} problem(s): {'; '.join(problems[:20])}{more}"
        )


def cmd_taxonomy(args: argparse.Namespace) -> int:
    """Check a centre's taxonomy CSV: every problem with its line; units against the store's."""
    from ivr.understanding.taxonomy import check

    known: list[str] | None = None
    if not args.no_units:
        try:
            settings = config_mod.load(args.config, files=False)
            known = asyncio.run(_unit_names(settings.store.url or str(settings.resolve(settings.store.path))))
        except (config_mod.ConfigError, StoreError) as exc:
            print(f"ivr: cannot read the units: {exc}", file=sys.stderr)
            return 2
    try:
        items, problems = check(Path(args.file), known)
    except OSError as exc:
        print(f"ivr: {args.file}: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem)
    print(f"{args.file}: {len(items)} categories, {len(problems)} problem(s)")
    return 1 if problems else 0


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    u = sub.add_parser("unit", help="units tickets are dispatched to, and their staff sign-ins")
    u.add_argument("--config", default="config.toml")
    cmds = u.add_subparsers(dest="unit_command", required=True)
    a = cmds.add_parser("add", help="add or change a unit")
    a.add_argument("id", help="short code, e.g. cy-cgw")
    a.add_argument("name", help="the name tickets carry, e.g. 朝阳区城管委")
    a.add_argument("--kind", default="委办局", choices=UNIT_KINDS)
    a.add_argument("--district", default="")
    s = cmds.add_parser(
        "staff", help=f"add or change a staff sign-in (password from ${PASSWORD_ENV} or the tty)"
    )
    s.add_argument("login")
    s.add_argument("--unit", required=True, help="the unit's id")
    s.add_argument("--name", default="", help="the staff member's name")
    cmds.add_parser("list", help="the units")
    u.set_defaults(func=cmd_unit)
    t = sub.add_parser("taxonomy", help="check a centre's three-level taxonomy CSV (line numbers, units)")
    t.add_argument("file", help="CSV with category1,category2,category3,unit")
    t.add_argument("--config", default="config.toml", help="whose store holds the units")
    t.add_argument("--no-units", action="store_true", help="do not check units against the store")
    t.set_defaults(func=cmd_taxonomy)
