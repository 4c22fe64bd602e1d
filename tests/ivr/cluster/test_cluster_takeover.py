"""A centre under load through Kamailio, end to end: two `ivr serve` nodes sharing one queue in
the PostgreSQL that `ivr cluster up` starts, an operator's `ivr seat` phone registered at the
proxy (every node dials it as `sip:1001@proxy`), `ivr call` callers and a steady sipp load that
honours Record-Route. The seat takes callers from both nodes; waiting callers hear positions
that count both nodes' callers; then the node holding waiting callers is SIGKILLed: new calls
reach the survivor, the dead node's waiting callers become callback tickets the supervisor
finds, the seat comes back and serves the survivor's callers, and the events show no caller
offered twice, no ticket made twice, a ticket for every answered call. Waits are generous (a
loaded 2-core machine); nothing here asserts a timing figure beyond the 5 s the issue names for
failover.
"""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from cluster_rig import SCENARIO, Running, login
from sip_peers import IVR, ROOT, SIPP_PCAPS, call, free_port, rtp_base, write_config

from ivr.records import TERMINAL

pytestmark = pytest.mark.sip

TALK = 5  # seconds the operator talks with each caller
AHEAD = re.compile(r"queue announcement: 您前面还有(\d+)位")
CENTRE = """
[queues.general]
announce_every = 4
wrapup_seconds = 1
ring_timeout = 8
[queues.urgent]
[[seats]]
id = "1001"
name = "王芳"
uri = "sip:1001@127.0.0.1:5999"  # fixed; [cluster] seats_register dials sip:1001@proxy instead
queues = ["general", "urgent"]
password = "pw-1001"
[cluster]
workdir = "{workdir}"
proxy_port = {proxy_port}
node_sip_port = 0
node_web_port = 0
node_rtp_port = {rtp}
node_rtp_span = 400
flood_invites = 200
probe_interval = 2
invite_timeout = 1.5
"""


@dataclass
class Centre:
    cluster: Running
    store: str  # the PostgreSQL URL every node uses
    phone: subprocess.Popen[str]
    phone_events: Path

    def rows(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async def fetch() -> list[asyncpg.Record]:
            conn = await asyncpg.connect(self.store)
            try:
                return list(await conn.fetch(sql, *args))
            finally:
                await conn.close()

        return asyncio.run(fetch())

    def node_log(self, name: str) -> str:
        return (self.cluster.workdir / name / "serve.log").read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Centre]:
    tmp = tmp_path_factory.mktemp("centre")
    # run as root, PostgreSQL's own account must reach <workdir>/postgres: a folder under /tmp
    # with o+x (pytest's own folders are 0700)
    workdir = Path(tempfile.mkdtemp(prefix="hotline-centre-"))
    workdir.chmod(0o711)
    proxy_port = free_port()
    extra = CENTRE.format(workdir=workdir, proxy_port=proxy_port, rtp=rtp_base(800))
    config = write_config(tmp / "config.toml", sip_port=free_port(), extra=extra)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[web]\nport = 0\n", '[web]\nport = 0\nsupervisor_password = "boss"\n'))
    err = open(tmp / "up.log", "w", encoding="utf-8")
    proc = subprocess.Popen(
        [*IVR, "cluster", "up", "--nodes", "2", "--config", str(config), "--duration", "400"],
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
        cwd=ROOT,
    )
    phone: subprocess.Popen[str] | None = None
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("trunk: "):
            logs = "".join(p.read_text(errors="replace")[-2000:] for p in workdir.glob("node*/serve.log"))
            raise AssertionError(f"{line!r}\n{(tmp / 'up.log').read_text()}\n{logs}")
        cluster = Running(proc, config, line.split()[1], proxy_port, workdir)
        node = tomllib.loads((cluster.workdir / "node1" / "node.toml").read_text(encoding="utf-8"))
        url = str(node.get("store", {}).get("url", ""))
        assert url.startswith("postgresql://"), (tmp / "up.log").read_text()
        events = tmp / "seat.jsonl"
        phone = subprocess.Popen(
            [*IVR, "seat", "--user", "1001", "--sip-port", str(free_port()), "--rtp-port", str(rtp_base()),
             "--talk", str(TALK), "--answer-after", "1", "--max-calls", "0", "--duration", "380",
             "--events", str(events), "--register", f"sip:127.0.0.1:{proxy_port}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        )  # fmt: skip
        assert phone.stdout is not None
        ready = phone.stdout.readline()
        assert "registered at" in ready, ready
        login(cluster.status())
        yield Centre(cluster, url, phone, events)
    finally:
        if phone is not None:
            phone.kill()
            phone.wait(10)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        err.close()
        for stream in (proc.stdout, phone.stdout if phone is not None else None):
            if stream is not None:
                stream.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _connected_on(centre: Centre) -> dict[str, int]:
    return {n: centre.node_log(n).count("connected to seat 1001") for n in ("node1", "node2")}


def test_a_caller_on_one_node_is_answered_by_the_seat_whose_last_call_was_on_the_other(
    centre: Centre,
) -> None:
    order: list[str] = []
    for i in range(4):  # round robin alternates the nodes; four calls at most to see both
        before = _connected_on(centre)
        report = call(centre.cluster.trunk, f"wait 2; dtmf 1; wait {TALK + 10}", caller=f"1390000000{i}")
        assert report["answered"], report
        after = _connected_on(centre)
        order += [n for n in after if after[n] > before[n]]
        if len(set(order)) == 2:
            break
    assert len(set(order)) == 2, order  # the one phone, dialled through the proxy by both nodes
    assert any(a != b for a, b in itertools.pairwise(order)), order


class Callers:
    """`ivr call` callers who ask for an operator and wait; ended at the test's end if still on."""

    def __init__(self, centre: Centre) -> None:
        self.centre = centre
        self.procs: dict[str, subprocess.Popen[str]] = {}

    def add(self, number: str) -> None:
        self.procs[number] = subprocess.Popen(
            [*IVR, "call", self.centre.cluster.trunk, "--script", "wait 2; dtmf 1; wait 110",
             "--timeout", "120", "--caller", number, "--rtp-port", str(rtp_base())],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
        )  # fmt: skip

    def close(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


def _sipp_load(centre: Centre, workdir: Path, calls: int, rate: int, result: dict[str, int]) -> None:
    """sipp callers at a steady rate through the proxy (each hears the menu 3 s and hangs up)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "pcap").symlink_to(SIPP_PCAPS)
    stats = workdir / "stats.csv"
    cmd = ["sipp", "-sf", str(SCENARIO), centre.cluster.trunk.removeprefix("sip:12345@"), "-s", "12345",
           "-m", str(calls), "-r", str(rate), "-d", "3000", "-p", str(free_port()), "-nostdin",
           "-timeout", "90s", "-trace_stat", "-stf", str(stats), "-fd", "1"]  # fmt: skip
    subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=workdir, check=False)
    rows: list[dict[str, str]] = []
    if stats.exists():
        with stats.open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f, delimiter=";"))
    if rows:
        result["ok"] = int(rows[-1]["SuccessfulCall(C)"])
        result["failed"] = int(rows[-1]["FailedCall(C)"])


def _until(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def test_a_node_killed_under_load_loses_no_caller_and_its_seat_comes_back(
    centre: Centre, tmp_path: Path
) -> None:
    load: dict[str, int] = {}
    sipp = threading.Thread(target=_sipp_load, args=(centre, tmp_path / "sipp", 60, 2, load))
    callers = Callers(centre)
    try:
        for i in range(6):  # one is talking soon; the others wait, spread over both nodes
            callers.add(f"1391000000{i}")
            time.sleep(0.4)

        def waiting() -> list[asyncpg.Record]:
            rows = centre.rows("SELECT call_id, node, context FROM queue_entries WHERE state = 'waiting'")
            return rows if len(rows) >= 4 and len({r["node"] for r in rows}) == 2 else []

        rows = _until(waiting, 60, "four callers waiting on both nodes")

        def counted_across() -> bool:
            """Three callers per node at most, one talking: "您前面还有3位" or more counts the
            other node's callers too."""
            said = [int(n) for name in ("node1", "node2") for n in AHEAD.findall(centre.node_log(name))]
            return any(n >= 3 for n in said)

        _until(counted_across, 30, "a position announcement counting the other node's callers")
        sipp.start()  # the steady load runs through the kill (alone first: round robin spreads the callers)
        time.sleep(3)
        rows = centre.rows("SELECT call_id, node, context FROM queue_entries WHERE state = 'waiting'")
        victim = Counter(r["node"] for r in rows).most_common(1)[0][0]
        lost = {r["call_id"]: json.loads(r["context"])["caller"] for r in rows if r["node"] == victim}
        os.kill(int(victim.rsplit("-", 1)[1]), signal.SIGKILL)  # a node's name is <host>-<pid>
        killed_at = time.time()

        for _ in range(2):  # new calls reach the survivor within 5 s
            report = call(centre.cluster.trunk, "wait 1", timeout=20, caller="13700000000")
            assert report["answered"] and report["setup_ms"] < 5000, report

        def tickets_made() -> list[asyncpg.Record]:
            rows = centre.rows("SELECT * FROM tickets WHERE call_id = ANY($1::text[])", list(lost))
            return rows if len(rows) == len(lost) else []

        made = _until(tickets_made, 60, "a callback ticket for each of the dead node's waiting callers")
        assert time.time() - killed_at < 45  # the lease (15 s) and a sweep; generous on a loaded machine
        for t in made:
            assert t["caller"] == lost[t["call_id"]] and t["status"] == "open", dict(t)
            assert t["description"].startswith("回拨"), t["description"]
            context = json.loads(t["context"])
            assert context["callback"]["node"] == victim and context["callback"]["waited"] > 0
            assert context["path"], context  # the IVR path the caller took
        # the supervisor finds them with the board's ticket search, on the surviving node
        survivor = next(n for n in centre.cluster.status()["nodes"] if n["state"] == "up")
        console = survivor["console"].rstrip("/")
        token = httpx.post(f"{console}/api/login", json={"role": "supervisor", "password": "boss"}).json()
        for call_id, number in lost.items():
            found = httpx.get(
                f"{console}/api/tickets",
                params={"caller": number},
                headers={"authorization": f"Bearer {token['token']}"},
            ).json()["tickets"]
            assert any(t["call_id"] == call_id and t["status"] == "open" for t in found), found

        callers.add("13920000000")  # one more who waits: only the survivor can take them

        # the seat comes back (a call it had on the dead node goes through wrap-up) and serves
        # every caller still waiting on the survivor; then it is ready
        def settled() -> bool:
            seat = centre.rows("SELECT state FROM queue_seats WHERE seat_id = '1001'")
            left = centre.rows("SELECT 1 FROM queue_entries")
            return not left and seat[0]["state"] == "ready"

        _until(settled, 120, "the survivor's callers served and the seat ready")
        after_kill = centre.rows(
            "SELECT call_id FROM queue_events WHERE kind = 'CONNECT' AND at > $1", killed_at
        )
        assert after_kill, "the seat took no call after the node died"
    finally:
        callers.close()
        if sipp.is_alive():
            sipp.join(150)

    events = centre.rows("SELECT call_id, kind, seat_id, data FROM queue_events ORDER BY id")
    ringing: set[str] = set()
    for e in events:  # an offer is settled (answered, not answered, cancelled) before the next
        if e["kind"] == "OFFER":
            assert e["call_id"] not in ringing, f"{e['call_id']} offered twice"
            ringing.add(e["call_id"])
        elif e["kind"] in ("CONNECT", "RINGNOANSWER", "RINGCANCELED"):
            ringing.discard(e["call_id"])
    kinds = Counter((e["call_id"], e["kind"]) for e in events)
    assert all(n == 1 for (_, k), n in kinds.items() if k == "CONNECT"), kinds
    ends = Counter(e["call_id"] for e in events if e["kind"] in {k.value for k in TERMINAL})
    assert all(n == 1 for n in ends.values()), ends
    for call_id in lost:  # each lost caller ended once, as a callback
        end = [json.loads(e["data"]) for e in events if e["call_id"] == call_id and e["kind"] == "ABANDON"]
        assert len(end) == 1 and end[0]["lost_node"] == victim and end[0]["callback_ticket"], end
    tickets = centre.rows("SELECT call_id FROM tickets WHERE call_id <> ''")
    per_call = Counter(r["call_id"] for r in tickets)
    assert all(n == 1 for n in per_call.values()), per_call  # no ticket made twice
    answered = {e["call_id"] for e in events if e["kind"] == "CONNECT"}
    assert answered <= set(per_call), answered - set(per_call)  # every answered call has its ticket
    # the steady load: the calls on the dead node at that moment fail, the rest are answered
    assert load.get("ok", 0) >= 40, load
