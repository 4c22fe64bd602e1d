"""`ivr cluster up`: start on one machine what a centre needs to try the cluster, and stop it.

Order: the shared store (PostgreSQL in `<workdir>/postgres`, database.py, when its programs are
installed and the base config names no `[store] url`; else one SQLite file per node), one broker,
the media nodes (`ivr serve` with generated configs), then Kamailio in front of them; stopping
runs the other way. Every child runs in its own session, so ^C reaches only this process, which
stops them in order. A node that dies is reported and left dead: surviving nodes take the calls
(that is what the cluster is for); if Kamailio dies, everything stops, since no call can arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ivr.broker import LocalBroker
from ivr.cluster import nodes as nodes_mod
from ivr.cluster.database import CentreDatabase
from ivr.cluster.kamailio import Front
from ivr.cluster.proxy import Proxy
from ivr.cluster.status import STATE, write_json
from ivr.config import Settings
from ivr.store import redact_store_url

Say = Callable[[str], None]


class SharedStore(Protocol):
    """The hook for the centre's shared store (PostgreSQL in its own data directory under the
    workdir). `url` goes to every node's config; None keeps one SQLite file per node."""

    url: str

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


@dataclass
class Node:
    plan: nodes_mod.NodePlan
    proc: asyncio.subprocess.Process
    console: str = ""
    reported_dead: bool = False
    drain: asyncio.Task[None] | None = None  # keeps reading stdout so the pipe never fills


@dataclass
class Cluster:
    settings: Settings
    count: int
    say: Say
    store: SharedStore | None = None
    workdir: Path = field(init=False)
    nodes: list[Node] = field(default_factory=list)
    proxy: Proxy | None = None
    broker: LocalBroker | None = None

    def __post_init__(self) -> None:
        self.workdir = self.settings.resolve(self.settings.cluster.workdir)

    @property
    def trunk(self) -> str:
        c = self.settings.cluster
        return f"sip:{self.settings.sip.public_name}@{c.proxy_bind}:{c.proxy_port}"

    async def start(self) -> None:
        """Start everything; on any failure stop what was started and re-raise."""
        c = self.settings.cluster
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / STATE).unlink(missing_ok=True)
        try:
            if self.store is not None:
                self.say("starting the shared store")
                await self.store.start()
            plans = nodes_mod.plan(self.settings, self.count, self.workdir)
            broker = await self._broker(plans)
            self.say(f"starting {len(plans)} node(s)")
            started = await asyncio.gather(
                *(self._start_node(p, broker) for p in plans), return_exceptions=True
            )
            failed = [r for r in started if isinstance(r, BaseException)]
            if failed:  # every node has finished trying, so stop() below sees them all
                raise failed[0]
            self.nodes.sort(key=lambda n: n.plan.name)
            front = Front(
                c.proxy_bind,
                c.proxy_port,
                tuple((self.settings.sip.bind, n.plan.sip_port) for n in self.nodes),
            )
            self.say(f"starting kamailio on {c.proxy_bind}:{c.proxy_port}")
            self.proxy = Proxy(front, c, self.workdir / "kamailio")
            await self.proxy.start()
            self._write_state(broker)
        except BaseException:
            await self.stop()
            raise

    async def _broker(self, plans: list[nodes_mod.NodePlan]) -> tuple[str, int]:
        m = self.settings.mqtt
        if m.host:
            return m.host, m.port
        self.broker = LocalBroker(
            data_dir=self.workdir / "broker",
            lines=[nodes_mod.client_id(p) for p in plans],
            topic_prefix=m.topic_prefix,
        )
        await self.broker.start()
        self.say(f"broker on {self.broker.host}:{self.broker.port}")
        return self.broker.host, self.broker.port

    async def _start_node(
        self, plan: nodes_mod.NodePlan, broker: tuple[str, int], timeout: float = 90.0
    ) -> None:
        c = self.settings.cluster
        password_file = self.broker.password_file(nodes_mod.client_id(plan)) if self.broker else None
        doc = nodes_mod.node_config(
            self.settings,
            plan,
            proxy=(c.proxy_bind, c.proxy_port),
            broker=broker,
            password_file=password_file,
            store_url=self.store.url if self.store is not None else "",
        )
        nodes_mod.write_node_config(doc, plan.config)
        plan.status_file.unlink(missing_ok=True)
        with open(plan.log, "ab") as log:  # noqa: ASYNC230 - once, at start
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "ivr.cli",
                "serve",
                "--config",
                str(plan.config),
                "--status-file",
                str(plan.status_file),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )
        node = Node(plan, proc)
        self.nodes.append(node)
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                raw = await asyncio.wait_for(proc.stdout.readline(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                break
            if not raw:
                raise RuntimeError(f"{plan.name} exited at start; see {plan.log}")
            line = raw.decode(errors="replace").strip()
            if line.startswith("console: "):
                node.console = line.removeprefix("console: ")
                self.say(
                    f"{plan.name} answering on sip:{self.settings.sip.bind}:{plan.sip_port} (pid {proc.pid})"
                )
                node.drain = asyncio.ensure_future(_drain(proc.stdout))
                return
        raise RuntimeError(f"{plan.name} did not start within {timeout:.0f} s; see {plan.log}")

    def _write_state(self, broker: tuple[str, int]) -> None:
        assert self.proxy is not None
        write_json(
            self.workdir / STATE,
            {
                "pid": os.getpid(),
                "started": time.time(),
                "trunk": self.trunk,
                "proxy": {"pid": self.proxy.pid, "log": str(self.proxy.log)},
                "broker": {"host": broker[0], "port": broker[1]},
                "store": redact_store_url(self.store.url) if self.store is not None else "",
                "nodes": [
                    {
                        "name": n.plan.name,
                        "pid": n.proc.pid,
                        "sip_port": n.plan.sip_port,
                        "web_port": n.plan.web_port,
                        "console": n.console,
                        "folder": str(n.plan.folder),
                    }
                    for n in self.nodes
                ],
            },
        )

    async def watch(self, stop: asyncio.Event) -> str:
        """Until stop is set or Kamailio dies; reports nodes that die. Returns why it ended."""
        while not stop.is_set():
            for n in self.nodes:
                if n.proc.returncode is not None and not n.reported_dead:
                    n.reported_dead = True
                    alive = sum(1 for m in self.nodes if m.proc.returncode is None)
                    self.say(
                        f"{n.plan.name} exited ({n.proc.returncode}); {alive} node(s) left, see {n.plan.log}"
                    )
            if self.proxy is not None and not self.proxy.running:
                return f"kamailio exited; see {self.proxy.log}"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
        return "stopping"

    async def stop(self) -> None:
        """Stop what was started, in reverse order; safe to call more than once."""
        (self.workdir / STATE).unlink(missing_ok=True)
        if self.proxy is not None:
            await self.proxy.stop()
        await asyncio.gather(*(_stop_process(n.proc) for n in self.nodes))
        if self.broker is not None:
            await self.broker.stop()
        if self.store is not None:
            await self.store.stop()


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


async def _stop_process(proc: asyncio.subprocess.Process, timeout: float = 20.0) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


async def run_cluster(settings: Settings, count: int, *, duration: float = 0, say: Say) -> int:
    """`ivr cluster up`: start, print the trunk and console, run until ^C/SIGTERM or duration."""
    store = None  # a [store] url in the base config reaches every node as it is
    if not settings.store.url and CentreDatabase.available():
        store = CentreDatabase(settings.resolve(settings.cluster.workdir) / "postgres", say)
    cluster = Cluster(settings, count, say, store)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if duration > 0:
        loop.call_later(duration, stop.set)
    await cluster.start()
    print(f"trunk: {cluster.trunk}", flush=True)
    print(f"console: {cluster.nodes[0].console}", flush=True)
    for n in cluster.nodes:
        print(
            f"{n.plan.name}: sip:{settings.sip.bind}:{n.plan.sip_port}, console {n.console}, "
            f"pid {n.proc.pid}",
            flush=True,
        )
    print(f"status: ivr cluster status --config {settings.source}", flush=True)
    try:
        why = await cluster.watch(stop)
        say(why)
    finally:
        await cluster.stop()
        say("cluster stopped")
    return 0 if why == "stopping" else 1
