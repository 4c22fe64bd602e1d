"""`ivr cluster up` and `ivr cluster status`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from ivr import config as cfg
from ivr.cluster.kamailio import KamailioError
from ivr.cluster.status import cluster_status, format_status
from ivr.privacy import private_files


def _settings(args: argparse.Namespace, *, line: bool = True) -> cfg.Settings:
    """The config; `line=False` for commands that run no node here (no flows folder needed)."""
    try:
        return cfg.load(args.config, files=line)
    except cfg.ConfigError as exc:
        print(f"ivr: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def cmd_up(args: argparse.Namespace) -> int:
    from ivr.cluster.supervisor import run_cluster

    private_files()  # the nodes' databases, recordings and the proxy's files

    settings = _settings(args)
    count = args.nodes or settings.cluster.nodes
    if not 1 <= count <= 64:
        print(f"ivr cluster up: --nodes must be 1..64, not {count}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    def say(text: str) -> None:  # progress on stderr; stdout carries the addresses
        print(f"cluster: {text}", file=sys.stderr, flush=True)

    try:
        return asyncio.run(run_cluster(settings, count, duration=args.duration, say=say))
    except (KamailioError, RuntimeError, cfg.ConfigError, OSError) as exc:
        print(f"ivr cluster up: {exc}", file=sys.stderr)
        return 1


def cmd_status(args: argparse.Namespace) -> int:
    settings = _settings(args, line=False)
    doc = cluster_status(settings.resolve(settings.cluster.workdir))
    print(json.dumps(doc, ensure_ascii=False) if args.json else format_status(doc))
    return 0 if doc["running"] else 1


def cmd_kamailio(args: argparse.Namespace) -> int:
    """Write (and check) the front's config for nodes on other machines: a real deployment."""
    from ivr.cluster import kamailio

    settings = _settings(args, line=False)
    c = settings.cluster
    nodes = []
    for item in args.node:
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            print(f"ivr cluster kamailio: --node {item!r}: expected HOST:PORT", file=sys.stderr)
            return 2
        nodes.append((host, int(port)))
    front = kamailio.Front(c.proxy_bind, c.proxy_port, tuple(nodes))
    cfg = kamailio.write(front, c, Path(args.out))
    try:
        kamailio.check(cfg, c.kamailio)
    except KamailioError as exc:
        print(f"ivr cluster kamailio: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {cfg} and {cfg.parent / 'dispatcher.list'} (kamailio -c: ok)")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Adds `cluster` with up and status to the `ivr` command line."""
    cluster = sub.add_parser("cluster", help="Kamailio in front of several nodes on one machine")
    csub = cluster.add_subparsers(dest="cluster_command", required=True)
    p = csub.add_parser("up", help="start the broker, N nodes and Kamailio; ^C stops them all")
    p.add_argument("--nodes", type=int, default=0, help="media nodes (default: [cluster] nodes)")
    p.add_argument(
        "--config", default="config.toml", help="base settings with [cluster] (default: config.toml)"
    )
    p.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0: until ^C)")
    p.set_defaults(func=cmd_up)
    p = csub.add_parser("kamailio", help="only write and check the Kamailio config for nodes elsewhere")
    p.add_argument("--node", action="append", required=True, help="a node's HOST:PORT (repeat per node)")
    p.add_argument("--config", default="config.toml", help="settings with [cluster] (default: config.toml)")
    p.add_argument("--out", default="kamailio", help="folder for kamailio.cfg and dispatcher.list")
    p.set_defaults(func=cmd_kamailio)
    p = csub.add_parser("status", help="the running cluster's nodes: pid, port, state, calls")
    p.add_argument("--config", default="config.toml", help="the settings `cluster up` was given")
    p.add_argument("--json", action="store_true", help='one JSON object: {"nodes": [...], ...}')
    p.set_defaults(func=cmd_status)
