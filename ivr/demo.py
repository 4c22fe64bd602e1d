"""`ivr demo`: the whole path on embedded defaults, bounded in time.

The hotline runs in this process (real SIP, flows, ACD, SQLite, a local mosquitto). Operator
phones are `ivr seat` processes that answer and talk; their consoles are MQTT clients here that
sign in at the web console for their seat's broker account, log in, go ready, receive screen
pops and fill in the ticket. Citizens are `ivr call` processes
that press keys (and, on the way, speak a recorded sentence to the operator).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import shutil
import signal
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiomqtt

from agents.stats import board
from ivr import config as config_mod
from ivr.app import Hotline
from ivr.config import SeatSettings, Settings
from ivr.ports import free_port
from ivr.speech.tts import Tts

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
NAMES = ["王芳", "李强", "张敏", "刘洋", "陈静", "杨磊", "赵丽", "黄伟"]
# menu key -> (what the citizen wants, the category the operator files it under, unit)
CHOICES = {
    "1": ("咨询", "政策咨询/社会保障/医保报销", "市医保局"),
    "2": ("投诉", "城市管理/噪音扰民/施工噪音", "朝阳区城管执法局"),
    "3": ("求助", "公共服务/供暖/暖气不热", "市热力集团"),
    "4": ("建议", "交通出行/公交线路/线路调整", "市交通委"),
    "5": ("表扬", "表扬感谢/窗口服务/服务态度", "区政务服务中心"),
}
CITIZEN_SAYS = "你好，我家楼下的路灯坏了好几天了，晚上很黑，麻烦你们派人修一下。"
OPERATOR_SAYS = "您好，12345市民服务热线，很高兴为您服务，请讲。"


def demo_settings(
    base: Settings, workdir: Path, seats: int
) -> tuple[Settings, list[tuple[SeatSettings, int]]]:
    roster: list[tuple[SeatSettings, int]] = []
    for i in range(seats):
        port = free_port()
        seat_id = f"{1001 + i}"
        roster.append(
            (
                SeatSettings(
                    id=seat_id,
                    name=NAMES[i % len(NAMES)],
                    uri=f"sip:{seat_id}@127.0.0.1:{port}",
                    queues=tuple(base.queues),
                    skills={"general": 5, "complaint": 3},
                    password=f"demo-{seat_id}",
                ),
                port,
            )
        )
    settings = replace(
        base,
        sip=replace(base.sip, port=free_port(), transports=("udp",), rtp_port=24000, rtp_port_range=2000),
        store=replace(  # the demo is one node: its own SQLite file even when a centre has a url
            base.store, url="", path=str(workdir / "hotline.db"), recordings=str(workdir / "recordings")
        ),
        mqtt=replace(base.mqtt, host="", client_id="hotline-demo"),
        seats=tuple(s for s, _ in roster),
        queues={n: replace(q, wrapup_seconds=2.0, announce_every=20.0) for n, q in base.queues.items()},
    )
    return settings, roster


class Consoles:
    """The operators' desks: each signs in at the web console for its seat's broker account, then
    over MQTT logs in, takes screen pops and files the tickets."""

    def __init__(self, console_url: str, passwords: dict[str, str]):
        self.console_url = console_url.rstrip("/")
        self.passwords = passwords  # seat id -> password
        self.pops: dict[str, dict[str, Any]] = {}  # ticket id -> pop
        self.filed = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._ready: dict[str, asyncio.Event] = {seat: asyncio.Event() for seat in passwords}
        self._filing: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        for seat, password in self.passwords.items():
            account = await asyncio.to_thread(self._sign_in, seat, password)
            self._tasks.append(asyncio.ensure_future(self._run(seat, account)))
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in self._ready.values())), 10)

    def _sign_in(self, seat: str, password: str) -> dict[str, Any]:
        body = json.dumps({"seat_id": seat, "password": password}).encode()
        request = urllib.request.Request(
            f"{self.console_url}/api/login", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            account = json.loads(answer.read())["mqtt"]
        if not account:
            raise RuntimeError(f"seat {seat} signed in without a broker account (see the log)")
        return dict(account)

    async def _run(self, seat: str, account: dict[str, Any]) -> None:
        base = account["topic_base"]  # hotline/v1/seat/<seat>
        async with aiomqtt.Client(
            account["host"],
            account["port"],
            identifier=account["client_id"],
            username=account["username"],
            password=account["password"],
        ) as client:
            await client.subscribe(f"{base}/pop", qos=1)
            for action in ("login", "ready"):
                await client.publish(f"{base}/command", json.dumps({"action": action}), qos=1)
            self._ready[seat].set()
            async for message in client.messages:
                pop = json.loads(bytes(message.payload))
                ticket = pop["ticket"]["id"]
                if ticket in self.pops:
                    continue
                self.pops[ticket] = pop
                task = asyncio.ensure_future(self._file(client, base, pop))
                self._filing.add(task)
                task.add_done_callback(self._filing.discard)

    async def _file(self, client: aiomqtt.Client, base: str, pop: dict[str, Any]) -> None:
        """What the operator types while talking (话毕单成): category, description, dispatch."""
        await asyncio.sleep(1.5)
        choice = str(pop["ivr"]["choices"].get("category", ""))
        key = next((k for k, (label, _, _) in CHOICES.items() if label == choice), "1")
        _, category, unit = CHOICES[key]
        c1, c2, c3 = category.split("/")
        fields = {
            "category1": c1,
            "category2": c2,
            "category3": c3,
            "description": f"市民来电{choice or '咨询'}：{CITIZEN_SAYS}",
            "address": "朝阳区望京街道",
            "unit": unit,
            "status": "dispatched",
        }
        topic = f"{base}/ticket/{pop['ticket']['id']}/update"
        await client.publish(topic, json.dumps({"fields": fields}), qos=1)
        self.filed += 1

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def caller_script(rng: random.Random, citizen_wav: Path, patient: bool) -> str:
    key = rng.choice("11223345")
    if not patient:  # hangs up if not served within a few seconds (an abandon if still waiting)
        return f"wait 2; dtmf {key}; wait {rng.randint(6, 12)}; hangup"
    # keys pressed on hold are discarded by the line; the ones after the operator hangs up answer
    # the satisfaction survey (满意请按1)
    steps = [f"wait 2; dtmf {key}; wait 9; play {citizen_wav}"]
    steps += ["wait 3; dtmf 1"] * 20
    return "; ".join(steps)


async def _spawn(*args: str, log_file: Path) -> asyncio.subprocess.Process:
    out = open(log_file, "ab")  # noqa: ASYNC230 - a log file for the child, opened once
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ivr.cli", *args, stdout=out, stderr=out, cwd=str(ROOT)
        )
    finally:
        out.close()


def _fresh(workdir: Path) -> None:
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)


async def run_demo(
    *,
    callers: int,
    seats: int,
    duration: float,
    config: Path,
    workdir: Path,
    talk: float,
    seed: int,
    quiet: bool,
) -> dict[str, Any]:
    def say(msg: str) -> None:
        if not quiet:
            print(msg, file=sys.stderr, flush=True)

    base = config_mod.load(config)  # before wiping the work folder: a bad config changes nothing
    await asyncio.to_thread(_fresh, workdir)
    config_mod.use_timezone(base.timezone)
    settings, roster = demo_settings(base, workdir, seats)
    tts = Tts.from_settings(settings.speech, sample_rate=settings.sip.clock_rate, resolve=settings.resolve)
    citizen_wav, operator_wav = await tts.render(CITIZEN_SAYS), await tts.render(OPERATOR_SAYS)
    line = Hotline(settings, voice=tts)
    await line.start()
    started = time.time()
    say(f"demo: hotline on sip:12345@127.0.0.1:{line.engine.sip_port}, {seats} seats, {callers} callers")
    seat_procs = [
        await _spawn(
            "seat",
            "--user",
            s.id,
            "--sip-port",
            str(port),
            "--rtp-port",
            str(26000 + 200 * i),
            "--say",
            str(operator_wav),
            "--talk",
            str(talk),
            "--answer-after",
            "1",
            "--record-dir",
            str(workdir / "seats"),
            log_file=workdir / f"seat-{s.id}.log",
        )
        for i, (s, port) in enumerate(roster)
    ]
    consoles = Consoles(line.web.url, {s.id: s.password for s, _ in roster})
    rng = random.Random(seed)
    caller_procs: list[asyncio.subprocess.Process] = []
    try:
        await asyncio.sleep(1.0)  # seat phones bind their ports
        await consoles.start()
        deadline = time.monotonic() + duration
        for i in range(callers):
            number = f"1380013{8000 + i:04d}"
            script = caller_script(rng, citizen_wav, patient=rng.random() > 0.2)
            caller_procs.append(
                await _spawn(
                    "call",
                    f"sip:12345@127.0.0.1:{line.engine.sip_port}",
                    "--script",
                    script,
                    "--caller",
                    number,
                    "--rtp-port",
                    str(30000 + 20 * i),
                    "--timeout",
                    "150",
                    log_file=workdir / "callers.log",
                )
            )
            await asyncio.sleep(rng.uniform(1.0, 2.5))
            say(_progress(line, consoles, started))
        while time.monotonic() < deadline and any(p.returncode is None for p in caller_procs):
            await asyncio.sleep(2.0)
            say(_progress(line, consoles, started))
    finally:
        for p in caller_procs + seat_procs:
            if p.returncode is None:
                p.send_signal(signal.SIGTERM)
        for p in caller_procs + seat_procs:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(p.wait(), 20)
            if p.returncode is None:
                p.kill()
        await asyncio.sleep(0.5)
        await consoles.stop()
        report = await _report(line, consoles, callers, settings, workdir)
        await line.stop()
    return report


def _progress(line: Hotline, consoles: Consoles, started: float) -> str:
    b = board(
        line.events.queue,
        line.events.seat,
        {q: 20.0 for q in line.settings.queues},
        time.time(),
        [s.id for s in line.settings.seats],
    )
    waiting = sum(f.waiting for f in b.queues.values())
    talking = b.seats_by_state.get("talking", 0)
    answered = sum(f.answered for f in b.queues.values())
    return (
        f"demo: t={time.time() - started:5.1f}s  calls in IVR/queue/talk: {line.stats.active}  "
        f"waiting: {waiting}  seats talking: {talking}  answered: {answered}  "
        f"screen pops: {len(consoles.pops)}"
    )


async def _report(
    line: Hotline, consoles: Consoles, callers: int, settings: Settings, workdir: Path
) -> dict[str, Any]:
    await line.store.flush()
    events = await line.store.queue_events()
    seat_events = await line.store.seat_events()
    levels = {n: q.service_level_seconds for n, q in settings.queues.items()}
    b = board(events, seat_events, levels, time.time(), [s.id for s in settings.seats])
    tally = await line.store.tickets.tally("satisfaction")
    answered = sum(f.answered for f in b.queues.values())
    in_time = sum(f.answered_in_time for f in b.queues.values())
    entered = sum(f.entered for f in b.queues.values())
    abandoned = sum(f.abandoned for f in b.queues.values())
    wait_total = sum((f.asa or 0.0) * f.answered for f in b.queues.values())
    return {
        "calls_total": callers,
        "calls_reached_line": line.stats.answered,
        "calls_queued": entered,
        "calls_answered": answered,
        "calls_abandoned": abandoned,
        "tickets_created": tally.total,
        "tickets_filed_by_operators": consoles.filed,
        "screen_pops": len(consoles.pops),
        "service_level": round(in_time / answered, 3) if answered else None,
        "asa_seconds": round(wait_total / answered, 1) if answered else None,
        "abandon_rate": round(abandoned / entered, 3) if entered else None,
        "queues": {
            n: {
                "entered": f.entered,
                "answered": f.answered,
                "abandoned": f.abandoned,
                "service_level": None if f.service_level is None else round(f.service_level, 3),
                "service_level_seconds": levels[n],
                "asa_seconds": None if f.asa is None else round(f.asa, 1),
                "aht_seconds": None if f.aht is None else round(f.aht, 1),
            }
            for n, f in b.queues.items()
        },
        "categories": dict(tally.categories),
        "satisfaction": dict(tally.surveys),
        "database": line.store.location,
        "logs": str(Path.cwd() / workdir if not workdir.is_absolute() else workdir),
    }


def print_report(r: dict[str, Any]) -> None:
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.0f}%"

    def secs(v: float | None) -> str:
        return "-" if v is None else f"{v} s"

    print("\n12345 hotline demo report")
    print(
        f"  calls placed {r['calls_total']}, reached the line {r['calls_reached_line']}, "
        f"queued {r['calls_queued']}, "
        f"answered by operators {r['calls_answered']}, abandoned {r['calls_abandoned']}"
    )
    print(
        f"  service level {pct(r['service_level'])}, ASA {secs(r['asa_seconds'])}, "
        f"abandon rate {pct(r['abandon_rate'])}"
    )
    for name, q in r["queues"].items():
        print(
            f"  queue {name}: entered {q['entered']}, answered {q['answered']}, abandoned {q['abandoned']}, "
            f"service level {pct(q['service_level'])} within {q['service_level_seconds']:.0f} s, "
            f"ASA {secs(q['asa_seconds'])}, AHT {secs(q['aht_seconds'])}"
        )
    print(
        f"  tickets created {r['tickets_created']} (filed by operators {r['tickets_filed_by_operators']}, "
        f"screen pops {r['screen_pops']})"
    )
    for cat, n in r["categories"].items():
        print(f"    {n:3d}  {cat}")
    if r["satisfaction"]:
        print("  satisfaction: " + ", ".join(f"{k} {v}" for k, v in r["satisfaction"].items()))
    print(f"  database: {r['database']}\n  logs and recordings: {r['logs']}")
