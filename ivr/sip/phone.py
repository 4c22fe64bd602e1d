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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ivr.sip.call import Call
from ivr.sip.engine import EngineConfig, SipEngine
from ivr.sip.events import CallGone, Registration
from ivr.sip.leg import wav_seconds

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


def _phone(
    port: int,
    rtp_port: int,
    user: str,
    *,
    answers: bool,
    on_incoming: Callable[[Call], None] | None = None,
    registrar: str = "",
    on_registration: Callable[[Registration], None] | None = None,
) -> SipEngine:
    """A softphone's engine: UDP, a small RTP range; a seat accepts calls from anyone (it
    answers them itself), a caller's phone refuses every incoming call. With a registrar
    (sip:host:port) the phone registers there as user, so a proxy reaches it as sip:user@host."""
    config = EngineConfig(
        port=port,
        transports=("udp",),
        rtp_port=rtp_port,
        rtp_port_range=400 if answers else 200,
        user=user,
        max_calls=16 if answers else 4,
        auto_answer=False,
        allow=None if answers else (),
        registrar=registrar,
        username=user if registrar else "",
        reg_expires=120,
    )
    return SipEngine(config, on_incoming=on_incoming, on_registration=on_registration)


async def _play(engine: SipEngine, call: Call, path: Path) -> None:
    token = await engine.play(call.id, path)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(call.ended.wait(), wav_seconds(path) + 0.05)
    await engine.stop_playing(call.id, token)


async def _start_recording(engine: SipEngine, call: Call, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    await engine.record(call.id, path)


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
    engine = _phone(port, rtp_port, user, answers=False)
    report = CallReport(uri)
    await engine.start()
    try:
        t0 = time.monotonic()
        out = await engine.dial(uri)
        report.answered = await out.wait_answer(timeout)
        report.status, report.reason = out.status, out.reason
        if not report.answered:
            return report
        report.setup_ms = round((time.monotonic() - t0) * 1000, 1)
        answered_at = time.monotonic()
        await asyncio.wait_for(out.media_ready.wait(), 5)
        if record is not None:
            await _start_recording(engine, out, record)
            report.recording = str(record)
        await _run_script(engine, out, steps, report, deadline=answered_at + timeout)
        report.seconds = round(time.monotonic() - answered_at, 2)
        if out.ended.is_set():
            report.hung_up_by = report.hung_up_by or "them"
        else:
            report.hung_up_by = "us"
            await engine.hangup(out.id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(out.ended.wait(), 5)
        report.status, report.reason = out.status, out.reason
        return report
    finally:
        await engine.stop()


async def _run_script(
    engine: SipEngine,
    out: Call,
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
                await engine.send_dtmf(out.id, d, method)
                await asyncio.sleep(0.25)
        elif verb == "play":
            await _play(engine, out, Path(args[0]))
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
    registrar: str = "",
    script: str = "",
) -> int:
    """An operator's phone (or a citizen's, for the line's follow-up calls): answer each call
    after `answer_after` s, play `say`, run `script` (wait, dtmf, play, hangup steps as for
    `ivr call`), hang up after `talk_seconds` (0: wait for the far end). Returns the number of
    calls answered. With a registrar it registers first and says "ready" only once registered
    (or gives up after 10 s with a message and returns 0)."""
    stop = stop or asyncio.Event()
    steps = parse_script(script) if script else []
    answered = 0
    journal = open(events, "a", encoding="utf-8") if events is not None else None  # noqa: ASYNC230 - once, at start

    def note(event: str, call: Call) -> None:
        # wall-clock stamps of what the phone saw, for benchmarks (one JSON object a line)
        if journal is not None:
            journal.write(
                json.dumps({"t": time.time(), "event": event, "caller": call.caller, "call": call.id}) + "\n"
            )
            journal.flush()

    tasks: set[asyncio.Task[None]] = set()

    async def handle(call: Call) -> None:
        nonlocal answered
        note("incoming", call)
        try:
            await engine.answer(call.id, 180)
            await asyncio.sleep(answer_after)
            if call.ended.is_set():
                return
            await engine.answer(call.id, 200)
        except CallGone:  # the far end gave up while we rang
            return
        note("answered", call)
        answered += 1
        with contextlib.suppress(CallGone):  # the far end may hang up while we record or play
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(call.media_ready.wait(), 5)
            if record_dir is not None and call.media_ready.is_set():
                await _start_recording(engine, call, record_dir / f"seat-{user}-{answered}-{call.caller}.wav")
            if say is not None and not call.ended.is_set():
                await _play(engine, call, say)
            if steps and not call.ended.is_set():
                await _run_script(engine, call, steps, CallReport(call.id), time.monotonic() + 300)
        if talk_seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(call.ended.wait(), talk_seconds)
            await engine.hangup(call.id)
        else:
            await call.ended.wait()
        note("ended", call)
        if max_calls and answered >= max_calls:
            stop.set()

    def incoming(call: Call) -> None:
        task = asyncio.ensure_future(handle(call))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    registered = asyncio.Event()

    def registration(reg: Registration) -> None:
        log.info("registration at %s: %d %s (expires %d s)", registrar, reg.code, reg.reason, reg.expires)
        if reg.code // 100 == 2 and reg.expires > 0:
            registered.set()

    engine = _phone(
        port,
        rtp_port,
        user,
        answers=True,
        on_incoming=incoming,
        registrar=registrar,
        on_registration=registration,
    )
    await engine.start()
    if registrar:
        try:
            await asyncio.wait_for(registered.wait(), 10)
        except TimeoutError:
            print(f"seat {user}: no registration at {registrar} within 10 s", flush=True)
            await engine.stop()
            return 0
    where = f", registered at {registrar}" if registrar else ""
    print(f"seat {user} ready on sip:{user}@127.0.0.1:{engine.sip_port}{where}", flush=True)
    try:
        await stop.wait()
    finally:
        for t in list(tasks):
            t.cancel()
        await engine.stop()
        if journal is not None:
            journal.close()
    return answered
