"""config.toml -> frozen, typed settings. Every error names the file, the key and what it expects.

The dataclasses' field types and rules (`ivr.configcheck`) are the one description of what each
value may be; `load` reports every problem at once, including folders and files the line needs
at start, and the commands exit with status 2 on any of them.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ivr.aftercall import DeadlineSettings as DeadlineSettings  # the [deadlines] section
from ivr.aftercall import FollowupSettings as FollowupSettings
from ivr.aftercall import WebhookSettings as WebhookSettings
from ivr.aftercall import webhook_settings
from ivr.configcheck import (
    COUNT,
    END_SILENCE,
    HOST_OR_EMPTY,
    IPV4,
    IPV4_LIST,
    IPV4_OR_HOST,
    KEY,
    LEVELS,
    LISTEN_PORT,
    MISSING,
    NAME,
    PORT,
    POSITIVE,
    POSITIVE_SECONDS,
    REGISTRAR,
    SECONDS,
    SIP_URI,
    THRESHOLDS,
    ZONE,
    Problems,
    Rule,
    above,
    at_least,
    checked,
    one_of,
    show,
    subset_of,
)
from ivr.duty import ControlSettings, control_settings
from ivr.policy import PASSWORD
from ivr.policy import RetentionSettings as RetentionSettings  # [signin], [retention], [[supervisors]]
from ivr.policy import SigninSettings as SigninSettings
from ivr.policy import SupervisorSettings as SupervisorSettings
from ivr.policy import supervisors as supervisor_accounts
from ivr.quality import QaSettings as QaSettings  # the [qa] section
from ivr.records import SHIFTS
from ivr.store.base import StoreError, check_store_url

log = logging.getLogger(__name__)

# The queue's seat-choosing strategies; agents/strategy.py implements exactly these.
STRATEGIES = ("longest_idle", "round_robin", "fewest_calls", "least_talk_time", "skills")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """One or more problems of a config file; `problems` lists them, one line each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def use_timezone(name: str) -> None:
    """Local time in this process is the centre's (ticket numbers, day folders, "today")."""
    if name and Path("/usr/share/zoneinfo", name).is_file():
        os.environ["TZ"] = name
        time.tzset()
    elif name:
        log.warning("timezone %r not found in /usr/share/zoneinfo; using the system's", name)


def _topic(prefix: str) -> bool:
    return bool(prefix) and not any(c in prefix for c in "+#\0") and not prefix.startswith("/")


@dataclass(frozen=True)
class SipSettings:
    bind: str = checked("127.0.0.1", IPV4)
    port: int = checked(5070, PORT)  # 0: a free port
    transports: tuple[str, ...] = checked(("udp", "tcp"), subset_of("udp", "tcp", "tls"))
    tls_port: int = checked(0, PORT)  # 0: no TLS; otherwise needs tls_cert and tls_key
    tls_cert: str = ""
    tls_key: str = ""
    rtp_port: int = checked(20000, LISTEN_PORT)
    rtp_port_range: int = checked(4000, POSITIVE)
    max_calls: int = checked(1000, POSITIVE)
    clock_rate: int = checked(8000, one_of(8000, 16000, 32000, 48000))  # G.711 trunks: 8000
    public_name: str = checked("12345", NAME)  # user part of our Contact / From for outbound legs
    # the SIP thread kept behind this long (SIP T1): INVITEs get 503 for 1 s
    overload_ms: int = checked(500, POSITIVE)
    retry_after: int = checked(5, POSITIVE)  # seconds, in the 503 at the call limit or in overload
    media_timeout: int = checked(60, COUNT)  # seconds without RTP from a caller: hang up (0: never)
    # RFC 4028 session timer (0: off; otherwise at least 90 s, the RFC's minimum)
    session_expires: int = checked(
        1800, Rule("0 (off) or a number of seconds >= 90", lambda v: v == 0 or v >= 90)
    )


@dataclass(frozen=True)
class TrunkSettings:
    mode: Literal["ip", "register"] = "ip"
    # source addresses (ip mode; register mode adds the registrar)
    allow: tuple[str, ...] = checked(("127.0.0.1",), IPV4_LIST)
    registrar: str = checked("", REGISTRAR)  # sip:host:port
    username: str = ""
    password: str = ""
    realm: str = "*"
    expires: int = checked(300, POSITIVE)  # seconds


@dataclass(frozen=True)
class SpeechSettings:
    model: str = ""  # Vosk model directory; empty: DTMF only (a missing one is logged, not fatal)
    voice: str = checked("cmn-latn-pinyin", NAME)
    rate: int = checked(170, at_least(20, "words per minute"))
    tts_cache: str = checked("audio/cache", NAME)
    voice_gate: bool = True  # decode only while the caller speaks (WebRTC voice activity detector)
    end_silence: float = checked(0.2, END_SILENCE)  # silence after speech that ends the caller's turn


@dataclass(frozen=True)
class StoreSettings:
    url: str = ""  # postgresql://user:password@host:5432/db shared by the nodes; empty: SQLite at path
    path: str = checked("var/hotline.db", NAME)
    recordings: str = checked("var/recordings", NAME)
    recording_retention_days: int = 180  # <= 0 keeps every recording
    batch_max: int = checked(500, POSITIVE)  # most writes per transaction; queued writes share one


@dataclass(frozen=True)
class MqttSettings:
    host: str = checked("", HOST_OR_EMPTY)  # empty: `ivr serve` starts a local mosquitto on a free port
    port: int = checked(1883, LISTEN_PORT)
    topic_prefix: str = checked("hotline", Rule("a topic without wildcards", _topic))
    username: str = ""  # the line's own account; with the local broker, client_id (generated)
    password: str = ""
    password_file: str = ""  # read at start instead of password (the local broker writes one, 0600)
    client_id: str = checked("hotline-ivr", NAME)  # the broker lets only the line's account use it
    tls_ca: str = ""  # CA file: TLS to the broker (an external one); empty: plain TCP
    tls_cert: str = ""  # client certificate and key, when the broker asks for one
    tls_key: str = ""
    seat_accounts: bool = True  # issue each signed-in console its own broker account (dynsec)
    keepalive: int = checked(30, POSITIVE)
    retry_min: float = checked(0.2, POSITIVE_SECONDS)  # reconnect backoff (seconds), doubled up to retry_max
    retry_max: float = checked(5.0, POSITIVE_SECONDS)


@dataclass(frozen=True)
class WebSettings:
    bind: str = checked("127.0.0.1", IPV4_OR_HOST)
    port: int = checked(8345, PORT)  # 0: a free port (the console prints its real address)
    supervisor_password: str = checked(
        "", PASSWORD
    )  # the account "supervisor" (older configs); [[supervisors]] names them
    admin_password: str = checked("", PASSWORD)  # seats and teams (管理员); empty: nobody signs in as admin
    cert: str = ""  # PEM certificate: the console speaks HTTPS (needed beyond loopback)
    key: str = ""  # its PEM private key
    hosts: tuple[str, ...] = ()  # names the console answers to besides its bind and loopback
    alert_wait_seconds: float = checked(60.0, SECONDS)  # the board flags a queue waiting longer


@dataclass(frozen=True)
class UnderstandingSettings:
    """Hot spots: calls about one problem at one place within the window (ivr/understanding)."""

    hot_spot_threshold: int = checked(3, at_least(2, "a number of calls"))  # the board alerts at this
    hot_spot_window_minutes: float = checked(
        180.0, above(0, "a number of minutes")
    )  # calls older than this leave the cluster
    # the centre's own three-level taxonomy (category1,category2,category3,unit), relative to
    # this file; "": the shipped ivr/understanding/taxonomy.csv. Checked at start (line numbers).
    taxonomy: str = checked(
        "",
        Rule(
            'a CSV file such as "taxonomy.csv", or "" for the shipped one',
            lambda v: not v or v.endswith(".csv"),
        ),
    )


@dataclass(frozen=True)
class QueueSettings:
    name: str
    strategy: str = checked("longest_idle", one_of(*STRATEGIES))
    max_length: int = checked(200, COUNT)
    max_wait: float = checked(600.0, SECONDS)
    announce_every: float = checked(30.0, SECONDS)  # 0: no announcements
    service_level_seconds: float = checked(20.0, SECONDS)
    wrapup_seconds: float = checked(15.0, SECONDS)
    ring_timeout: float = checked(15.0, POSITIVE_SECONDS)
    max_no_answer: int = checked(2, COUNT)
    skills: dict[str, int] = field(default_factory=dict, metadata={"rule": LEVELS})
    skill_widen_after: tuple[float, ...] = checked((30.0, 60.0), THRESHOLDS)
    when_no_seats: str = checked("wait", one_of("wait", "leave"))
    survey_flow: str = ""
    callback_key: str = checked("*", KEY)  # pressed while waiting: hang up and be called back
    weight: int = checked(0, COUNT)  # a seat in several queues serves the higher weight first
    skill_widen_levels: int = checked(2, COUNT)  # each skill_widen_after step lowers levels this much
    default_handle_seconds: float = checked(180.0, POSITIVE_SECONDS)  # estimate basis until real ones


@dataclass(frozen=True)
class SeatSettings:
    id: str = field(metadata={"rule": NAME})
    name: str
    uri: str = field(metadata={"rule": SIP_URI})
    skills: dict[str, int] = field(default_factory=dict, metadata={"rule": LEVELS})
    queues: tuple[str, ...] = ()
    password: str = checked("", PASSWORD)  # plain (loopback only) or a hash from `ivr passwd`
    wrapup_seconds: float | None = checked(None, SECONDS)  # None: the queue's wrapup_seconds
    team: str = ""  # a team's id (班组, kept in the store; created on start when unknown)
    shift: str = checked("", one_of("", *SHIFTS))


def _networks(entries: tuple[str, ...]) -> bool:
    try:
        for entry in entries:
            ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ClusterSettings:
    """`ivr cluster up`: Kamailio in front of N `ivr serve` nodes (docs/cluster.md)."""

    nodes: int = checked(2, Rule("a whole number from 1 to 64", lambda v: 1 <= v <= 64))  # --nodes
    workdir: str = checked("var/cluster", NAME)  # generated configs, node databases, logs, state
    proxy_bind: str = checked("127.0.0.1", IPV4)  # Kamailio's address: the trunk points here
    proxy_port: int = checked(5060, PORT)
    node_sip_port: int = checked(5401, PORT)  # node i (from 0) on node_sip_port + i; 0: free ports
    node_rtp_port: int = checked(40000, LISTEN_PORT)  # node i: node_rtp_span ports from here + i * span
    node_rtp_span: int = checked(2000, at_least(20, "a number of ports"))
    node_web_port: int = checked(8401, PORT)  # node i's console on node_web_port + i; 0: free ports
    # addresses or networks that may call the line
    trunk_allow: tuple[str, ...] = checked(("127.0.0.1",), Rule("a list of addresses or networks", _networks))
    flood_invites: int = checked(40, POSITIVE)  # INVITEs one source may send per flood_window s (pike)
    flood_window: int = checked(2, POSITIVE)
    probe_interval: int = checked(5, POSITIVE)  # seconds between OPTIONS probes of each node
    invite_timeout: float = checked(2.0, POSITIVE_SECONDS)  # no reply within this: the next node
    seats_register: bool = True  # seats are dialled as sip:<id>@proxy (their phones register there)
    # postgres://...: registrations kept in PostgreSQL; empty: in memory
    location_db: str = checked(
        "", Rule('a postgres:// URL, or "" for memory', lambda v: not v or v.startswith("postgres://"))
    )
    kamailio: str = checked("kamailio", NAME)  # the executable


@dataclass(frozen=True)
class Settings:
    source: Path
    sip: SipSettings
    trunk: TrunkSettings
    speech: SpeechSettings
    store: StoreSettings
    mqtt: MqttSettings
    web: WebSettings
    flows_dir: Path
    audio_dir: Path  # recorded prompts and hold music (audio/hold.wav)
    numbers: dict[str, str]  # dialled number -> flow name (file stem under flows_dir)
    default_flow: str
    queues: dict[str, QueueSettings]
    seats: tuple[SeatSettings, ...]
    log_level: str = "INFO"
    timezone: str = "Asia/Shanghai"  # the centre's clock: ticket numbers, day folders, today's charts
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    understanding: UnderstandingSettings = field(default_factory=UnderstandingSettings)
    deadlines: DeadlineSettings = field(default_factory=DeadlineSettings)
    followup: FollowupSettings = field(default_factory=FollowupSettings)
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    qa: QaSettings = field(default_factory=QaSettings)
    signin: SigninSettings = field(default_factory=SigninSettings)
    supervisors: tuple[SupervisorSettings, ...] = ()
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    controls: ControlSettings = field(default_factory=ControlSettings)

    def resolve(self, path: str | Path) -> Path:
        """Paths in config are relative to the config file's folder."""
        p = Path(path)
        return p if p.is_absolute() else (self.source.parent / p).resolve()


SECTIONS = (
    "sip",
    "trunk",
    "speech",
    "store",
    "mqtt",
    "web",
    "flows",
    "queues",
    "seats",
    "cluster",
    "understanding",
    "deadlines",
    "followup",
    "webhook",
    "qa",
    "signin",
    "supervisors",
    "retention",
    "controls",
)
TOP_KEYS = ("log_level", "timezone")
FLOWS_KEYS = ("dir", "audio", "default", "numbers")
LOG_LEVEL = Rule(f"one of {', '.join(show(n) for n in LOG_LEVELS)}", lambda v: v.upper() in LOG_LEVELS)


def load(path: str | Path, *, files: bool = True) -> Settings:
    """Read, check and return the settings; ConfigError lists every problem found. With
    `files=False` the folders and files a line needs are not checked (a machine that only runs
    the SIP proxy, or reads a cluster's status, has no flows folder)."""
    source = Path(path).resolve()
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError([f"{path}: no such config file"]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: {exc}"]) from exc
    problems = Problems(str(path))
    settings = _parse(raw, source, problems)
    if files:
        _check_files(settings, problems)
    if problems.found:
        raise ConfigError(problems.found)
    return settings


def parse(raw: dict[str, Any], source: Path) -> Settings:
    """Settings from an already-read TOML table: types and ranges, not the file system."""
    problems = Problems(str(source))
    settings = _parse(raw, source, problems)
    if problems.found:
        raise ConfigError(problems.found)
    return settings


def _parse(raw: dict[str, Any], source: Path, problems: Problems) -> Settings:
    problems.unknown("", raw, (*SECTIONS, *TOP_KEYS))
    flows: dict[str, Any] = {}

    def flows_value(key: str, default: Any, tp: Any = str, rule: Rule = NAME) -> Any:
        if key not in flows:
            return default
        got = problems.value("[flows]", key, tp, flows[key], rule)
        return default if got is MISSING else got

    top = {
        key: problems.value("", key, str, raw[key], rule)
        for key, rule in (("log_level", LOG_LEVEL), ("timezone", ZONE))
        if key in raw
    }
    sip = problems.section(SipSettings, raw.get("sip", {}), "[sip]")
    trunk = problems.section(TrunkSettings, raw.get("trunk", {}), "[trunk]")
    _cross_check(sip, trunk, problems)
    flows.update(problems.table("[flows]", raw.get("flows", {})))
    problems.unknown("[flows]", flows, FLOWS_KEYS)
    flows_dir, audio_dir = Path(flows_value("dir", "flows")), Path(flows_value("audio", "audio"))
    default_flow = flows_value("default", "main")
    numbers = flows_value("numbers", {}, dict[str, str], Rule("a table of flow names", _all_named))
    speech = problems.section(SpeechSettings, raw.get("speech", {}), "[speech]")
    store = problems.section(StoreSettings, raw.get("store", {}), "[store]")
    if store.url:
        try:
            check_store_url(store.url)
        except StoreError as exc:  # its message names the URL with the password masked
            problems.add("[store]", f"url: {exc}")
    mqtt = problems.section(MqttSettings, raw.get("mqtt", {}), "[mqtt]")
    if mqtt.retry_min > mqtt.retry_max:
        problems.add(
            "[mqtt]",
            f"retry_max: expected a number >= retry_min ({show(mqtt.retry_min)}), got {show(mqtt.retry_max)}",
        )
    web = problems.section(WebSettings, raw.get("web", {}), "[web]")
    queues: dict[str, QueueSettings] = {}
    for name, q in problems.table("[queues]", raw.get("queues", {})).items():
        queues[name] = problems.section(QueueSettings, q, f"[queues.{name}]", name=name)
    seats = _seats(raw.get("seats", []), queues, problems)
    return Settings(
        source=source,
        sip=sip,
        trunk=trunk,
        speech=speech,
        store=store,
        mqtt=mqtt,
        web=web,
        flows_dir=flows_dir,
        audio_dir=audio_dir,
        numbers=numbers,
        default_flow=default_flow,
        queues=queues,
        seats=seats,
        cluster=problems.section(ClusterSettings, raw.get("cluster", {}), "[cluster]"),
        understanding=problems.section(
            UnderstandingSettings, raw.get("understanding", {}), "[understanding]"
        ),
        deadlines=problems.section(DeadlineSettings, raw.get("deadlines", {}), "[deadlines]"),
        followup=problems.section(FollowupSettings, raw.get("followup", {}), "[followup]"),
        webhook=webhook_settings(raw.get("webhook", {}), problems),
        qa=problems.section(QaSettings, raw.get("qa", {}), "[qa]"),
        signin=problems.section(SigninSettings, raw.get("signin", {}), "[signin]"),
        supervisors=supervisor_accounts(raw.get("supervisors", []), web.supervisor_password, problems),
        retention=problems.section(RetentionSettings, raw.get("retention", {}), "[retention]"),
        controls=control_settings(raw.get("controls", {}), tuple(s.id for s in seats), problems),
        **{k: v.upper() if k == "log_level" else v for k, v in top.items() if v is not MISSING},
    )


def _all_named(numbers: dict[str, str]) -> bool:
    return all(numbers.values())


def _seats(raw: Any, queues: dict[str, QueueSettings], problems: Problems) -> tuple[SeatSettings, ...]:
    if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
        problems.add("[[seats]]", f"expected a list of tables ([[seats]] blocks), got {show(raw)}")
        return ()
    seats: list[SeatSettings] = []
    seen: set[str] = set()
    for i, s in enumerate(raw):
        sid = s.get("id")
        where = f"[[seats]] #{i + 1}" + (f" (id {show(sid)})" if isinstance(sid, str) else "")
        seat = problems.section(SeatSettings, s, where)
        for qn in seat.queues:
            if qn not in queues:
                known = ", ".join(show(q) for q in queues) or "none"
                problems.add(where, f"queues: expected names of [queues.*] tables ({known}), got {show(qn)}")
        if seat.id in seen:
            problems.add(where, f"id: expected an id no other seat has, got {show(seat.id)}")
        seen.add(seat.id)
        seats.append(seat)
    return tuple(seats)


def _cross_check(sip: SipSettings, trunk: TrunkSettings, problems: Problems) -> None:
    """Values that are right alone but wrong together."""
    if sip.rtp_port + sip.rtp_port_range > 65536:
        problems.add(
            "[sip]",
            f"rtp_port_range: expected rtp_port + rtp_port_range <= 65536, got {sip.rtp_port} + "
            f"{sip.rtp_port_range}",
        )
    if "tls" in sip.transports and not sip.tls_port:
        problems.add("[sip]", 'tls_port: expected a port when transports has "tls", got 0')
    if sip.tls_port:
        for key in ("tls_cert", "tls_key"):
            if not getattr(sip, key):
                problems.add("[sip]", f'{key}: expected a PEM file when tls_port is set, got ""')
    if trunk.mode == "register":
        for key in ("registrar", "username", "password"):
            if not getattr(trunk, key):
                problems.add("[trunk]", f'{key}: expected a value when mode is "register", got ""')


def _check_files(s: Settings, problems: Problems) -> None:
    """Folders and files the line reads at start exist; the ones it writes can be created."""
    problems.folder("[flows]", "dir", s.resolve(s.flows_dir))
    problems.folder("[flows]", "audio", s.resolve(s.audio_dir))
    if s.sip.tls_port and s.sip.tls_cert:
        problems.pem("[sip]", "tls_cert", s.resolve(s.sip.tls_cert), "CERTIFICATE")
    if s.sip.tls_port and s.sip.tls_key:
        problems.pem("[sip]", "tls_key", s.resolve(s.sip.tls_key), "PRIVATE KEY")
    for key, kind in (("tls_ca", "CERTIFICATE"), ("tls_cert", "CERTIFICATE"), ("tls_key", "PRIVATE KEY")):
        if getattr(s.mqtt, key):
            problems.pem("[mqtt]", key, s.resolve(getattr(s.mqtt, key)), kind)
    if bool(s.mqtt.tls_cert) != bool(s.mqtt.tls_key):
        problems.add(
            "[mqtt]", "tls_cert, tls_key: expected both (a client certificate and its key) or neither"
        )
    if s.understanding.taxonomy:  # every problem by line; units are checked at start (ivr.app)
        from ivr.understanding.taxonomy import file_problems  # the understanding's own reader

        for problem in file_problems(s.resolve(s.understanding.taxonomy)):
            problems.add("[understanding]", f"taxonomy: {problem}")
    if bool(s.web.cert) != bool(s.web.key):
        problems.add("[web]", "cert, key: expected both (the console's certificate and its key) or neither")
    elif s.web.cert:
        problems.pem("[web]", "cert", s.resolve(s.web.cert), "CERTIFICATE")
        problems.pem("[web]", "key", s.resolve(s.web.key), "PRIVATE KEY")
    problems.creatable("[store]", "path", s.resolve(s.store.path).parent)
    problems.creatable("[store]", "recordings", s.resolve(s.store.recordings))
    problems.creatable("[speech]", "tts_cache", s.resolve(s.speech.tts_cache))
    _check_checklist(s, problems)


def _check_checklist(s: Settings, problems: Problems) -> None:
    """The quality checklist reads without a defect; each one is reported as file:line:col."""
    from ivr.checklist import load_checklist  # reads YAML as the flows do; loaded when checked

    if not s.qa.checklist:
        return
    _, found = load_checklist(s.resolve(s.qa.checklist))
    for problem in found:
        problems.add("[qa]", f"checklist: {problem}")
