"""`ivr doctor`: checks every part the line needs and says how to fix what is missing."""

from __future__ import annotations

import asyncio
import datetime
import os
import resource
import secrets
import shutil
import socket
import sqlite3
import subprocess
import wave
from collections.abc import Callable
from dataclasses import dataclass

import aiomqtt

from ivr.broker import BrokerError, find_plugin
from ivr.bus import BusError, line_account, tls_parameters
from ivr.config import Settings

CN_MODEL_HINT = (
    "download vosk-model-small-cn-0.22 (42 MB zip, sha256 "
    "3af8b0e7e0f835ae9d414ce5df580237a3cfb08d586c9fbbb0f7ff29ad5b14ba) from the Vosk models page, "
    'unzip it under models/ and set [speech] model = "models/vosk-model-small-cn-0.22" '
    "(or vosk-model-cn-0.22, 1.3 GB, on a server with the memory)"
)
# everyday words any Chinese model knows: asked of the loaded model (small models ship no words.txt)
CHINESE_PROBES = ("你好", "我", "的", "小区", "投诉", "电话", "问题", "地址")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def _pjsua2() -> Check:
    try:
        from ivr.sip import capture
        from ivr.sip.endpoint import HEADROOM
        from ivr.sip.engine import EngineConfig, SipEngine

        async def probe() -> int:
            # pjsua reports its limit only once initialised: start a throwaway endpoint
            engine = SipEngine(EngineConfig(port=0, transports=("udp",), rtp_port=39500, max_calls=1000))
            await engine.start()
            compiled = capture.max_calls() - HEADROOM  # not the open-file limit's: see _open_files
            await engine.stop()
            return min(1000, compiled)

        limit = asyncio.run(probe())
    except Exception as exc:
        return Check(
            "pjsua2", False, f"cannot load: {exc}", "run `make setup` (builds the high-capacity wheel)"
        )
    if limit < 300:
        return Check(
            "pjsua2", False, f"compiled call limit {limit}", "rebuild with setup/pjsua2.sh (PJSUA_MAX_CALLS)"
        )
    return Check("pjsua2", True, f"pjsua2 loaded, compiled call limit {limit}")


def _open_files(settings: Settings) -> Check:
    """`ivr serve` raises the soft limit itself; only a hard limit below the need lowers calls."""
    from ivr.sip.descriptors import PER_CALL, RESERVED, needed

    want = needed(settings.sip.max_calls)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard >= want:
        return Check(
            "open files", True, f"limit {soft} (hard {hard}); {settings.sip.max_calls} calls need {want}"
        )
    calls = max(1, (hard - RESERVED) // PER_CALL)
    return Check(
        "open files",
        False,
        f"hard limit {hard} allows {calls} calls, not [sip] max_calls {settings.sip.max_calls}",
        f"raise it to {want} (`ulimit -Hn {want}` as root, or LimitNOFILE={want} in the service unit)",
    )


def _model(settings: Settings) -> Check:
    if not settings.speech.model:
        return Check(
            "speech model",
            False,
            "[speech] model is not set: callers can use the keypad only",
            CN_MODEL_HINT,
            required=False,
        )
    from ivr.speech.asr import ModelError, load_model
    from ivr.speech.grammar import ModelVocabulary

    path = settings.resolve(settings.speech.model)
    try:
        model, info = load_model(path)
    except ModelError as exc:
        return Check("speech model", False, str(exc), CN_MODEL_HINT, required=False)
    vocabulary = ModelVocabulary(model)
    known = [w for w in CHINESE_PROBES if w in vocabulary]
    if len(known) * 2 < len(CHINESE_PROBES):
        return Check(
            "speech model",
            False,
            f"Vosk model at {info.path} loads, but its vocabulary does not look Chinese "
            f"({len(known)} of {len(CHINESE_PROBES)} common Chinese words known): "
            "callers' words will not reach the understanding step",
            CN_MODEL_HINT,
            required=False,
        )
    return Check(
        "speech model",
        True,
        f"Vosk model at {info.path} loads; Chinese vocabulary ({len(known)} of "
        f"{len(CHINESE_PROBES)} common words known)",
    )


def _espeak(settings: Settings) -> Check:
    exe = shutil.which("espeak-ng")
    if exe is None:
        return Check("espeak-ng", False, "espeak-ng not found", "apt-get install espeak-ng")
    out = subprocess.run(
        [exe, "-v", settings.speech.voice, "-q", "-x", "您好"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    if out.returncode != 0 or not out.stdout.strip():
        return Check(
            "espeak-ng",
            False,
            f"voice {settings.speech.voice} failed: {out.stderr.strip()}",
            "apt-get install espeak-ng; use voice cmn-latn-pinyin",
        )
    return Check("espeak-ng", True, f"voice {settings.speech.voice}: 您好 -> {out.stdout.strip()}")


def _broker(settings: Settings) -> list[Check]:
    m = settings.mqtt
    if not m.host:
        exe = shutil.which("mosquitto") or next(
            (p for p in ("/usr/sbin/mosquitto",) if os.path.exists(p)), None
        )
        if exe is None:
            return [
                Check(
                    "mqtt broker",
                    False,
                    "no broker configured and mosquitto not installed",
                    "apt-get install mosquitto, or set [mqtt] host",
                )
            ]
        try:
            plugin = find_plugin()
        except BrokerError as exc:
            return [Check("mqtt broker", False, str(exc), "apt-get install mosquitto (2.0 or later)")]
        return [
            Check(
                "mqtt broker",
                True,
                f"no broker configured: `ivr serve` starts {exe} on a free port, "
                f"no anonymous clients, accounts by {plugin.name}",
            )
        ]
    try:
        with socket.create_connection((m.host, m.port), timeout=3):
            pass
    except OSError as exc:
        return [
            Check(
                "mqtt broker", False, f"{m.host}:{m.port}: {exc}", "start the broker or fix [mqtt] host/port"
            )
        ]
    checks = [Check("mqtt broker", True, f"{m.host}:{m.port} accepts connections"), _anonymous(settings)]
    try:
        user, password = line_account(m, settings.resolve)
        if not (user and password):
            checks.append(
                Check(
                    "mqtt account",
                    False,
                    "[mqtt] username and password (or password_file) are not set",
                    "create the line's account with the ACL in docs/mqtt.md and set them",
                )
            )
    except BusError as exc:
        checks.append(Check("mqtt account", False, str(exc), "fix [mqtt] password_file"))
    loopback = m.host in ("localhost", "::1") or m.host.startswith("127.")
    if not m.tls_ca and not loopback:
        checks.append(
            Check(
                "mqtt tls",
                False,
                f"plain TCP to {m.host}: passwords and screen pops cross the network in clear",
                "set [mqtt] tls_ca (and the broker's TLS listener port)",
            )
        )
    return checks


def _anonymous(settings: Settings) -> Check:
    """Connect without an account: the broker must refuse (docs/mqtt.md, "The broker's ACL")."""
    m = settings.mqtt

    async def probe() -> str:
        client = aiomqtt.Client(
            m.host,
            m.port,
            identifier=f"hotline-doctor-{secrets.token_hex(4)}",
            tls_params=tls_parameters(m, settings.resolve),
            timeout=5.0,
        )
        try:
            async with client:
                return "accepted"
        except aiomqtt.MqttError as exc:
            return f"refused ({exc})"

    try:
        answer = asyncio.run(probe())
    except Exception as exc:
        return Check("mqtt anonymous", False, f"could not try: {exc}", "check [mqtt] host, port and tls_*")
    if answer == "accepted":
        return Check(
            "mqtt anonymous",
            False,
            f"{m.host}:{m.port} accepts clients without an account: anyone who can reach it reads "
            "every screen pop and can send commands",
            "set allow_anonymous false and the ACL in docs/mqtt.md",
        )
    return Check("mqtt anonymous", True, f"an anonymous connection is {answer}")


def _database(settings: Settings) -> Check:
    if settings.store.url:
        return _shared_database(settings.store.url)
    path = settings.resolve(settings.store.path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path)
        mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        con.close()
    except (OSError, sqlite3.Error) as exc:
        return Check("database", False, f"{path}: {exc}", "fix [store] path or its folder's permissions")
    return Check("database", True, f"{path} opens (journal {mode})")


def _shared_database(url: str) -> Check:
    from ivr.store import StoreError, redact_store_url
    from ivr.store.postgres import probe

    try:
        version = asyncio.run(probe(url))
    except StoreError as exc:
        return Check("database", False, str(exc), "start PostgreSQL or fix [store] url")
    return Check("database", True, f"{redact_store_url(url)} answers (PostgreSQL {version})")


def _registration(settings: Settings) -> Check:
    t = settings.trunk
    if t.mode != "register":
        return Check("trunk", True, f"IP trunk: INVITEs accepted from {', '.join(t.allow)}")
    from ivr.sip.engine import EngineConfig, SipEngine
    from ivr.sip.events import Registration

    result: list[Registration] = []

    async def attempt() -> None:
        done = asyncio.Event()

        def on_registration(ev: Registration) -> None:
            result.append(ev)
            done.set()

        engine = SipEngine(
            EngineConfig(
                port=0,
                transports=("udp",),
                registrar=t.registrar,
                username=t.username,
                password=t.password,
                realm=t.realm,
                reg_expires=t.expires,
                rtp_port=39000,
                max_calls=2,
                allow=(),
            ),
            on_registration=on_registration,
        )
        await engine.start()
        try:
            await asyncio.wait_for(done.wait(), 10)
        except TimeoutError:
            pass
        finally:
            await engine.stop()

    asyncio.run(attempt())
    if not result:
        return Check(
            "trunk", False, f"no answer from registrar {t.registrar} in 10 s", "check [trunk] registrar"
        )
    ev = result[0]
    if 200 <= ev.code < 300:
        return Check("trunk", True, f"registered at {t.registrar} as {t.username} ({ev.expires} s)")
    return Check(
        "trunk",
        False,
        f"registrar {t.registrar} answered {ev.code} {ev.reason}",
        "check [trunk] username/password" if ev.code in (401, 403, 407) else "check the registrar",
    )


def _flows(settings: Settings) -> Check:
    from ivr.flow import FlowLibrary

    library = FlowLibrary.from_settings(settings)
    errors = [p for p in library.load() if p.severity == "error"]
    if errors:
        return Check("flows", False, f"{len(errors)} error(s), first: {errors[0]}", "run `ivr flows check`")
    numbers = ", ".join(f"{n} -> {f}" for n, f in settings.numbers.items())
    return Check("flows", True, f"{', '.join(sorted(library.snapshot.flows))} load clean ({numbers})")


def _calendar(settings: Settings, today: datetime.date | None = None) -> Check:
    """Units' deadlines count working days on this calendar: it must know the coming holidays."""
    from ivr.flow.checker import load_calendar

    d = settings.deadlines
    path = settings.resolve(d.calendar)
    calendar, problem = load_calendar(path)
    fix = f"add the State Council's holiday and 调休 schedule to {path} ([deadlines] calendar)"
    if calendar is None:
        return Check(
            "deadline calendar", False, f"{problem}: deadlines count Monday to Friday", fix, required=False
        )
    day = today or datetime.date.today()
    gap = calendar.uncovered(day, d.calendar_ahead_days)
    if gap is not None:
        ahead = d.calendar_ahead_days
        detail = f"{path.name} lists no holidays for {gap.year}: the next {ahead} days are not covered"
        return Check("deadline calendar", False, detail, fix, required=False)
    year = calendar.provisional_in(day, d.calendar_ahead_days)
    if year is not None:
        detail = (
            f"{path.name} covers the next {d.calendar_ahead_days} days, but its {year} holidays are"
            " provisional (entered before the official notice)"
        )
        fix = f"replace the {year} dates in {path} with the State Council's notice"
        fix += f" and drop {year} from provisional"
        return Check("deadline calendar", False, detail, fix, required=False)
    return Check("deadline calendar", True, f"{path.name} covers the next {d.calendar_ahead_days} days")


def _hold_music(settings: Settings) -> Check:
    """What a caller held by an operator hears ([controls] hold_music under [flows] audio)."""
    path = settings.resolve(settings.audio_dir) / settings.controls.hold_music
    fix = f"put a WAV at {path} or name another in [controls] hold_music"
    try:
        with wave.open(str(path), "rb") as w:
            seconds = w.getnframes() / float(w.getframerate())
    except (OSError, EOFError, wave.Error) as exc:
        detail = f"{path}: {exc}: held callers hear silence"
        return Check("hold music", False, detail, fix, required=False)
    return Check("hold music", True, f"{path.name}, {seconds:.0f} s")


def run_doctor(
    settings: Settings, out: Callable[[str], None] = print, today: datetime.date | None = None
) -> int:
    checks = [
        _pjsua2(),
        _open_files(settings),
        _espeak(settings),
        _model(settings),
        _flows(settings),
        *_broker(settings),
        _database(settings),
        _registration(settings),
        _calendar(settings, today),
        _hold_music(settings),
    ]
    for c in checks:
        mark = "ok  " if c.ok else ("FAIL" if c.required else "warn")
        out(f"[{mark}] {c.name}: {c.detail}")
        if not c.ok and c.fix:
            out(f"       fix: {c.fix}")
    return 0 if all(c.ok or not c.required for c in checks) else 1
