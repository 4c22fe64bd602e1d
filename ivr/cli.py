"""The `ivr` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import NoReturn

from ivr import config as config_mod
from ivr.audit import add_command as add_audit
from ivr.cluster.cli import add_commands as add_cluster_commands
from ivr.flow.cli import add_commands
from ivr.passwords import add_command as add_passwd
from ivr.policy import exposure
from ivr.privacy import mask_logs, private_files
from ivr.roster.cli import add_command as add_roster_command
from ivr.store import StoreError
from ivr.store.cli import add_command as add_unit_command
from ivr.understanding.cli import add_command as add_understand

log = logging.getLogger("ivr")


class NotStarted(Exception):
    """`ivr serve` could not bring up every part of the line (the reason is the message)."""


def setup_logging(level: str = "INFO", *, show_numbers: bool = False) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    mask_logs(show_numbers)


def _load(args: argparse.Namespace) -> config_mod.Settings:
    try:
        settings = config_mod.load(args.config)
    except config_mod.ConfigError as exc:
        config_exit(exc)
    config_mod.use_timezone(settings.timezone)
    return settings


def config_exit(exc: config_mod.ConfigError) -> NoReturn:
    """Every problem on its own line, then status 2: a half-configured line never starts."""
    for problem in exc.problems:
        print(f"ivr: {problem}", file=sys.stderr)
    raise SystemExit(2) from exc


async def _until_signal(duration: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), duration if duration > 0 else None)
    except TimeoutError:
        pass


def console_passwords(settings: config_mod.Settings) -> dict[str, str]:
    """Each console account's configured password (or hash), for the start-up check."""
    found = {f"seat {s.id}": s.password for s in settings.seats}
    found.update({f"supervisor {s.login}": s.password for s in settings.supervisors})
    return found


def cmd_serve(args: argparse.Namespace) -> int:
    private_files()
    settings = _load(args)
    setup_logging(args.log_level or settings.log_level)
    web = settings.web
    refuse, warn = exposure(web.bind, web.cert, console_passwords(settings), web.hosts)
    for reason in refuse:
        print(f"ivr serve: refusing to start: {reason}", file=sys.stderr)
    if refuse:
        return 2
    for warning in warn:
        log.warning("!!! console: %s", warning)

    async def main() -> None:
        from ivr.app import Hotline
        from ivr.speech.asr import Recognizer
        from ivr.speech.tts import Tts

        tts = Tts.from_settings(
            settings.speech, sample_rate=settings.sip.clock_rate, resolve=settings.resolve
        )
        recognizer = Recognizer.from_settings(settings.speech, resolve=settings.resolve)
        line = Hotline(settings, voice=tts, recognizer=recognizer, sip_port=args.sip_port)
        try:
            await line.start()
        except Exception as exc:  # never leave the console up over a line that does not answer
            await line.stop()
            if recognizer is not None:
                recognizer.close()
            if isinstance(exc, StoreError):  # its own message, exit 2: a [store] url to fix
                raise
            raise NotStarted(str(exc) or type(exc).__name__) from exc
        print(
            f"12345 hotline answering on "
            f"sip:{settings.sip.public_name}@{settings.sip.bind}:{line.engine.sip_port} "
            f"({'/'.join(settings.sip.transports)}), call limit {line.engine.max_calls}",
            flush=True,
        )
        print(f"console: {line.web.url}", flush=True)
        figures = None
        if args.status_file:  # for `ivr cluster status`
            from ivr.cluster.status import publish_figures

            def now() -> dict[str, int]:
                return {
                    "calls_now": line.stats.active,
                    "calls_handled": line.stats.answered,
                    **line.engine.figures(),
                }

            figures = asyncio.ensure_future(publish_figures(Path(args.status_file), now))
        try:
            await _until_signal(args.duration)
        finally:
            if figures is not None:
                figures.cancel()
            await line.stop()
            if recognizer is not None:
                recognizer.close()

    try:
        asyncio.run(main())
    except StoreError as exc:  # a malformed [store] url or a database that cannot be reached
        print(f"ivr: {exc}", file=sys.stderr)
        return 2
    except NotStarted as exc:
        print(f"ivr serve: the line did not start: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_call(args: argparse.Namespace) -> int:
    setup_logging(args.log_level or "WARNING")
    from ivr.sip.phone import parse_script, place_call

    try:
        parse_script(args.script)
    except (ValueError, IndexError) as exc:
        print(f"ivr call: {exc}", file=sys.stderr)
        return 2
    report = asyncio.run(
        place_call(
            args.uri,
            script=args.script,
            record=Path(args.record) if args.record else None,
            timeout=args.timeout,
            port=args.sip_port,
            rtp_port=args.rtp_port,
            user=args.caller,
        )
    )
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        state = "answered" if report.answered else "not answered"
        print(
            f"{args.uri}: {state}, {report.status} {report.reason}, {report.seconds} s, "
            f"hung up by {report.hung_up_by}"
        )
        if report.recording:
            print(f"recorded what it heard to {report.recording}")
    return 0 if report.answered else 1


def cmd_seat(args: argparse.Namespace) -> int:
    setup_logging(args.log_level or "WARNING")
    from ivr.sip.phone import run_seat

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if args.duration > 0:
            loop.call_later(args.duration, stop.set)
        return await run_seat(
            port=args.sip_port,
            rtp_port=args.rtp_port,
            record_dir=Path(args.record_dir) if args.record_dir else None,
            say=Path(args.say) if args.say else None,
            talk_seconds=args.talk,
            answer_after=args.answer_after,
            max_calls=args.max_calls,
            stop=stop,
            user=args.user,
            events=Path(args.events) if args.events else None,
            registrar=args.register,
            script=args.script,
        )

    answered = asyncio.run(main())
    print(f"seat {args.user}: answered {answered} call(s)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    private_files()
    setup_logging(args.log_level or ("ERROR" if args.json else "WARNING"))
    from ivr.demo import print_report, run_demo

    try:
        report = asyncio.run(
            run_demo(
                callers=args.callers,
                seats=args.seats,
                duration=args.duration,
                config=Path(args.config),
                workdir=Path(args.workdir),
                talk=args.talk,
                seed=args.seed,
                quiet=False,  # progress goes to stderr; --json keeps stdout to the report
            )
        )
    except config_mod.ConfigError as exc:
        config_exit(exc)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print_report(report)
    return 0 if report["calls_answered"] > 0 else 1


def cmd_doctor(args: argparse.Namespace) -> int:
    from ivr.doctor import run_doctor

    settings = _load(args)
    setup_logging("WARNING")
    return run_doctor(settings)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ivr", description="12345 citizen service hotline")
    p.add_argument("--log-level", default="", help="DEBUG, INFO, WARNING (default: from config)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="answer the 12345 trunk with the configured flows")
    s.add_argument("--config", default="config.toml", help="settings file (default: config.toml)")
    s.add_argument("--sip-port", type=int, default=None, help="override [sip] port (a second instance)")
    s.add_argument("--duration", type=float, default=0, help="stop after this many seconds (0: run until ^C)")
    s.add_argument(
        "--status-file", default="", help="rewrite this JSON file each second with calls now/handled"
    )
    s.set_defaults(func=cmd_serve)

    c = sub.add_parser(
        "call", help="dial the line with a softphone: send keys, play a WAV, record what it hears"
    )
    c.add_argument("uri", help="e.g. sip:12345@127.0.0.1:5070")
    c.add_argument("--script", default="wait 10", help="steps: 'wait 3; dtmf 1; play me.wav; wait 5; hangup'")
    c.add_argument("--record", default="", help="WAV file for what the caller hears")
    c.add_argument("--timeout", type=float, default=60, help="longest call in seconds")
    c.add_argument("--caller", default="13800138000", help="caller number (From user)")
    c.add_argument("--sip-port", type=int, default=0, help="local SIP port (0: any)")
    c.add_argument("--rtp-port", type=int, default=30000, help="first local RTP port")
    c.add_argument("--json", action="store_true", help="print the call report as JSON")
    c.set_defaults(func=cmd_call)

    st = sub.add_parser("seat", help="an operator's softphone: answer calls, talk, record what it hears")
    st.add_argument("--user", default="1001", help="seat id (SIP user)")
    st.add_argument("--sip-port", type=int, default=5081)
    st.add_argument("--rtp-port", type=int, default=32000)
    st.add_argument("--record-dir", default="", help="folder for a WAV per answered call")
    st.add_argument("--say", default="", help="WAV the operator 'says' after answering")
    st.add_argument("--talk", type=float, default=0, help="hang up after this many seconds (0: caller ends)")
    st.add_argument("--answer-after", type=float, default=0.5, help="ring this long before answering")
    st.add_argument("--max-calls", type=int, default=0, help="exit after this many calls (0: no limit)")
    st.add_argument("--duration", type=float, default=0, help="exit after this many seconds (0: until ^C)")
    st.add_argument("--events", default="", help="append a JSON line per incoming/answered/ended call")
    st.add_argument("--register", default="", help="register at this registrar, e.g. sip:127.0.0.1:5060")
    st.add_argument("--script", default="", help="after answering: 'wait 8; dtmf 1; wait 5' (as for call)")
    st.set_defaults(func=cmd_seat)

    dm = sub.add_parser(
        "demo", help="the whole path: simulated citizens, menus, queue, operator seats, tickets"
    )
    dm.add_argument("--callers", type=int, default=12, help="citizens calling in")
    dm.add_argument("--seats", type=int, default=3, help="operator seats (softphones that answer)")
    dm.add_argument("--duration", type=float, default=150, help="longest run in seconds")
    dm.add_argument("--talk", type=float, default=8, help="seconds each operator talks before hanging up")
    dm.add_argument("--seed", type=int, default=12345, help="random seed for the callers' choices")
    dm.add_argument(
        "--config", default="config.toml", help="settings to start from (ports and seats are the demo's)"
    )
    dm.add_argument("--workdir", default="var/demo", help="database, logs and recordings of the run")
    dm.add_argument("--json", action="store_true", help="print the report as one JSON object")
    dm.set_defaults(func=cmd_demo)

    d = sub.add_parser(
        "doctor", help="check pjsua2, the speech model, espeak-ng, the broker and the database"
    )
    d.add_argument("--config", default="config.toml")
    d.set_defaults(func=cmd_doctor)

    add_commands(sub)
    add_cluster_commands(sub)
    add_understand(sub)
    add_unit_command(sub)
    add_roster_command(sub)
    add_audit(sub)
    add_passwd(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
