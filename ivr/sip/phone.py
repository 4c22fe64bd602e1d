"""A small pjsua2 softphone: `ivr call` dials the line as a citizen would, `ivr seat` answers as an
operator's phone. Both record what they hear, so tests and the demo can check real audio.

Script steps for `ivr call --script`, separated by ';':
  wait SECONDS | dtmf DIGITS [info] | play FILE.wav | hangup
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ivr.sip.engine import EngineConfig, SipEngine
from ivr.sip.events import IncomingCall
from ivr.sip.leg import wav_seconds
from ivr.sip.router import CallRouter, OutboundCall

log = logging.getLogger(__name__)


@dataclass
class CallReport:
    uri: str
    answered: bool = False
    status: int = 0
    reason: str = ""
    setup_ms: float = 0.0
    seconds: float = 0.0
    hung_up_by: str = ""  # "us" or "them"
    recording: str = ""
    steps: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def parse_script(script: str) -> list[tuple[str, list[str]]]:
    steps: list[tuple[str, list[str]]] = []
    for raw in script.split(";"):
        words = raw.split()
        if not words:
            continue
        verb, args = words[0].lower(), words[1:]
        if verb not in ("wait", "dtmf", "play", "hangup"):
            raise ValueError(f"unknown script step {raw.strip()!r}: use wait, dtmf, play or hangup")
        if verb == "wait":
            float(args[0]) if args else None
        steps.append((verb, args))
    return steps


def _phone(router: CallRouter, port: int, rtp_port: int, user: str, *, answers: bool) -> SipEngine:
    """A softphone's engine: UDP, a small RTP range; a seat accepts calls from anyone (it
    answers them itself), a caller's phone refuses every incoming call."""
    config = EngineConfig(
        port=port,
        transports=("udp",),
        rtp_port=rtp_port,
        rtp_port_range=400 if answers else 200,
        user=user,
        max_calls=16 if answers else 4,
        auto_answer=False,
        allow=None if answers else (),
    )
    return SipEngine(config, router.dispatch)


async def _play(engine: SipEngine, call_id: int, path: Path, ended: asyncio.Event) -> None:
    token = engine.token()
    await engine.submit(lambda: engine.call(call_id).play(token, path))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(ended.wait(), wav_seconds(path) + 0.05)
    if not ended.is_set():
        with contextlib.suppress(Exception):
            await engine.submit(lambda: engine.call(call_id).stop(token))


async def _start_recording(engine: SipEngine, call_id: int, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    token = engine.token()

    def start() -> None:
        call = engine.call(call_id)
        assert call.audio is not None
        call.record(token, path, [call.audio])

    await engine.submit(start)


async def place_call(
    uri: str,
    *,
    script: str = "",
    record: Path | None = None,
    timeout: float = 60.0,
    port: int = 0,
    rtp_port: int = 30000,
    user: str = "13800138000",
) -> CallReport:
    """Dial uri, run the script once answered, hang up at its end (or when the far end does)."""
    steps = parse_script(script)
    router = CallRouter()
    engine = _phone(router, port, rtp_port, user, answers=False)
    report = CallReport(uri)
    await engine.start()
    try:
        t0 = time.monotonic()
        out = await router.dial(engine, uri)
        report.answered = await out.wait_answer(timeout)
        report.status, report.reason = out.status, out.reason
        if not report.answered:
            return report
        report.setup_ms = round((time.monotonic() - t0) * 1000, 1)
        answered_at = time.monotonic()
        await asyncio.wait_for(out.media_ready.wait(), 5)
        if record is not None:
            await _start_recording(engine, out.call_id, record)
            report.recording = str(record)
        await _run_script(engine, out, steps, report, deadline=answered_at + timeout)
        report.seconds = round(time.monotonic() - answered_at, 2)
        if out.ended.is_set():
            report.hung_up_by = report.hung_up_by or "them"
        else:
            report.hung_up_by = "us"
            await engine.submit(lambda: engine.hangup(out.call_id))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(out.ended.wait(), 5)
        report.status, report.reason = out.status, out.reason
        return report
    finally:
        await engine.stop()


async def _run_script(
    engine: SipEngine,
    out: OutboundCall,
    steps: list[tuple[str, list[str]]],
    report: CallReport,
    deadline: float,
) -> None:
    for verb, args in steps:
        if out.ended.is_set():
            report.hung_up_by = "them"
            return
        report.steps.append(" ".join([verb, *args]))
        if verb == "wait":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    out.ended.wait(), min(float(args[0]), max(0.0, deadline - time.monotonic()))
                )
        elif verb == "dtmf":
            method = args[1] if len(args) > 1 else "rfc2833"
            for d in args[0]:
                await engine.submit(lambda d=d, m=method: engine.send_dtmf(out.call_id, d, m))  # type: ignore[misc]
                await asyncio.sleep(0.25)
        elif verb == "play":
            await _play(engine, out.call_id, Path(args[0]), out.ended)
        elif verb == "hangup":
            return


async def run_seat(
    *,
    port: int,
    rtp_port: int,
    record_dir: Path | None = None,
    say: Path | None = None,
    talk_seconds: float = 0.0,
    answer_after: float = 0.5,
    max_calls: int = 0,
    stop: asyncio.Event | None = None,
    user: str = "seat",
    events: Path | None = None,
) -> int:
    """An operator's phone: answer each call after `answer_after` s, play `say`, hang up after
    `talk_seconds` (0: wait for the far end). Returns the number of calls answered."""
    router = CallRouter()
    engine = _phone(router, port, rtp_port, user, answers=True)
    stop = stop or asyncio.Event()
    answered = 0
    journal = open(events, "a", encoding="utf-8") if events is not None else None  # noqa: ASYNC230 - once, at start

    def note(event: str, ev: IncomingCall) -> None:
        # wall-clock stamps of what the phone saw, for benchmarks (one JSON object a line)
        if journal is not None:
            journal.write(
                json.dumps({"t": time.time(), "event": event, "caller": ev.caller, "call": ev.call_id}) + "\n"
            )
            journal.flush()

    tasks: set[asyncio.Task[None]] = set()

    async def handle(ev: IncomingCall) -> None:
        nonlocal answered
        out = OutboundCall(ev.call_id)
        router.claim(ev.call_id, out)
        note("incoming", ev)
        await engine.submit(lambda: engine.answer(ev.call_id, 180))
        await asyncio.sleep(answer_after)
        if out.ended.is_set():
            return
        await engine.submit(lambda: engine.answer(ev.call_id, 200))
        note("answered", ev)
        answered += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(out.media_ready.wait(), 5)
        if record_dir is not None and out.media_ready.is_set():
            await _start_recording(engine, ev.call_id, record_dir / f"seat-{user}-{answered}-{ev.caller}.wav")
        if say is not None and not out.ended.is_set():
            await _play(engine, ev.call_id, say, out.ended)
        if talk_seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(out.ended.wait(), talk_seconds)
            if not out.ended.is_set():
                await engine.submit(lambda: engine.hangup(ev.call_id))
        else:
            await out.ended.wait()
        note("ended", ev)
        if max_calls and answered >= max_calls:
            stop.set()

    def incoming(ev: IncomingCall) -> None:
        task = asyncio.ensure_future(handle(ev))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    router.on_incoming = incoming
    await engine.start()
    print(f"seat {user} ready on sip:{user}@127.0.0.1:{engine.sip_port}", flush=True)
    try:
        await stop.wait()
    finally:
        for t in list(tasks):
            t.cancel()
        await engine.stop()
        if journal is not None:
            journal.close()
    return answered
