"""config.toml -> frozen, typed settings. Every error names the file and the key."""

from __future__ import annotations

import ipaddress
import logging
import os
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    pass


def use_timezone(name: str) -> None:
    """Local time in this process is the centre's (ticket numbers, day folders, "today")."""
    if name and Path("/usr/share/zoneinfo", name).is_file():
        os.environ["TZ"] = name
        time.tzset()
    elif name:
        log.warning("timezone %r not found in /usr/share/zoneinfo; using the system's", name)


@dataclass(frozen=True)
class SipSettings:
    bind: str = "127.0.0.1"
    port: int = 5070
    transports: tuple[str, ...] = ("udp", "tcp")
    tls_port: int = 0  # 0: no TLS; otherwise needs tls_cert and tls_key
    tls_cert: str = ""
    tls_key: str = ""
    rtp_port: int = 20000
    rtp_port_range: int = 4000
    max_calls: int = 1000
    clock_rate: int = 8000  # G.711 trunks; the conference bridge runs at this rate
    public_name: str = "12345"  # user part of our Contact / From for outbound legs
    overload_ms: int = 500  # the SIP thread kept behind this long (SIP T1): INVITEs get 503 for 1 s
    retry_after: int = 5  # seconds, in the 503 at the call limit or in overload
    media_timeout: int = 60  # seconds without RTP from a caller: hang up (0: never)
    session_expires: int = 1800  # RFC 4028 session timer, >= 90 (0: off)


@dataclass(frozen=True)
class TrunkSettings:
    mode: Literal["ip", "register"] = "ip"
    allow: tuple[str, ...] = ("127.0.0.1",)  # source addresses (ip mode; register mode adds the registrar)
    registrar: str = ""  # sip:host:port
    username: str = ""
    password: str = ""
    realm: str = "*"
    expires: int = 300


@dataclass(frozen=True)
class SpeechSettings:
    model: str = ""  # Vosk model directory; empty: DTMF only
    voice: str = "cmn-latn-pinyin"
    rate: int = 170  # words per minute
    tts_cache: str = "audio/cache"


@dataclass(frozen=True)
class StoreSettings:
    path: str = "var/hotline.db"
    recordings: str = "var/recordings"
    recording_retention_days: int = 180
    batch_max: int = 500  # most writes per transaction; writes queued meanwhile share one commit


@dataclass(frozen=True)
class MqttSettings:
    host: str = ""  # empty: `ivr serve` starts a local mosquitto on a free port
    port: int = 1883
    topic_prefix: str = "hotline"
    username: str = ""
    password: str = ""
    client_id: str = "hotline-ivr"
    keepalive: int = 30
    retry_min: float = 0.2  # reconnect backoff (seconds), doubled up to retry_max
    retry_max: float = 5.0


@dataclass(frozen=True)
class WebSettings:
    bind: str = "127.0.0.1"
    port: int = 8345  # 0: a free port (the console prints its real address)
    supervisor_password: str = ""  # empty: nobody can sign in as supervisor
    alert_wait_seconds: float = 60.0  # the board flags a queue whose longest wait passes this


@dataclass(frozen=True)
class QueueSettings:
    name: str
    strategy: str = "longest_idle"
    max_length: int = 200
    max_wait: float = 600.0
    announce_every: float = 30.0
    service_level_seconds: float = 20.0
    wrapup_seconds: float = 15.0
    ring_timeout: float = 15.0
    max_no_answer: int = 2
    skills: dict[str, int] = field(default_factory=dict)
    skill_widen_after: tuple[float, ...] = (30.0, 60.0)
    when_no_seats: str = "wait"  # wait | leave
    survey_flow: str = ""
    callback_key: str = "*"  # pressed while waiting: hang up and be called back, keeping the place
    weight: int = 0  # a seat in several queues serves the higher weight first (Asterisk's weight)
    skill_widen_levels: int = 2  # each skill_widen_after step lowers required levels by this much
    default_handle_seconds: float = 180.0  # estimated-wait basis until real handle times exist


@dataclass(frozen=True)
class SeatSettings:
    id: str
    name: str
    uri: str
    skills: dict[str, int] = field(default_factory=dict)
    queues: tuple[str, ...] = ()
    password: str = ""
    wrapup_seconds: float | None = None  # None: the queue's wrapup_seconds


@dataclass(frozen=True)
class ClusterSettings:
    """`ivr cluster up`: Kamailio in front of N `ivr serve` nodes (docs/cluster.md)."""

    nodes: int = 2  # default for --nodes
    workdir: str = "var/cluster"  # generated configs, node databases, logs, the state file
    proxy_bind: str = "127.0.0.1"  # Kamailio's address: the trunk points here
    proxy_port: int = 5060
    node_sip_port: int = 5401  # node i (from 0) on node_sip_port + i; 0: free ports
    node_rtp_port: int = 40000  # node i takes node_rtp_span ports from node_rtp_port + i * span
    node_rtp_span: int = 2000
    node_web_port: int = 8401  # node i's console on node_web_port + i; 0: free ports
    trunk_allow: tuple[str, ...] = ("127.0.0.1",)  # addresses or networks that may call the line
    flood_invites: int = 40  # INVITEs one source may send per flood_window seconds (pike)
    flood_window: int = 2
    probe_interval: int = 5  # seconds between OPTIONS probes of each node
    invite_timeout: float = 2.0  # no reply from a node within this: the next node gets the call
    seats_register: bool = True  # seats are dialled as sip:<id>@proxy (their phones register there)
    location_db: str = ""  # postgres://...: registrations kept in PostgreSQL; empty: in memory
    kamailio: str = "kamailio"  # the executable


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

    def resolve(self, path: str | Path) -> Path:
        """Paths in config are relative to the config file's folder."""
        p = Path(path)
        return p if p.is_absolute() else (self.source.parent / p).resolve()


def _section(cls: type[Any], raw: dict[str, Any], where: str, **extra: Any) -> Any:
    known = set(cls.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
        )
    values: dict[str, Any] = dict(extra)
    for key, value in raw.items():
        values[key] = tuple(value) if isinstance(value, list) else value
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def load(path: str | Path) -> Settings:
    source = Path(path).resolve()
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{source}: no such config file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: {exc}") from exc
    return parse(raw, source)


def parse(raw: dict[str, Any], source: Path) -> Settings:
    where = str(source)
    top_known = {
        "sip",
        "trunk",
        "speech",
        "store",
        "mqtt",
        "web",
        "flows",
        "queues",
        "seats",
        "log_level",
        "timezone",
        "cluster",
    }
    unknown = set(raw) - top_known
    if unknown:
        raise ConfigError(f"{where}: unknown section(s) {', '.join(sorted(unknown))}")
    flows = dict(raw.get("flows", {}))
    numbers = {str(k): str(v) for k, v in dict(flows.pop("numbers", {})).items()}
    flows_dir = Path(str(flows.pop("dir", "flows")))
    audio_dir = Path(str(flows.pop("audio", "audio")))
    default_flow = str(flows.pop("default", "main"))
    if flows:
        raise ConfigError(f"{where}: [flows]: unknown key(s) {', '.join(sorted(flows))}")
    queues: dict[str, QueueSettings] = {}
    for name, q in dict(raw.get("queues", {})).items():
        q = dict(q)
        if "skills" in q:
            q["skills"] = dict(q["skills"])
        queues[name] = _section(QueueSettings, q, f"{where}: [queues.{name}]", name=name)
    seats: list[SeatSettings] = []
    for i, s in enumerate(raw.get("seats", [])):
        s = dict(s)
        if "skills" in s:
            s["skills"] = dict(s["skills"])
        seat = _section(SeatSettings, s, f"{where}: [[seats]] #{i + 1}")
        for qn in seat.queues:
            if qn not in queues:
                raise ConfigError(f"{where}: seat {seat.id}: unknown queue {qn!r}")
        seats.append(seat)
    if len({s.id for s in seats}) != len(seats):
        raise ConfigError(f"{where}: [[seats]]: duplicate seat id")
    settings = Settings(
        source=source,
        sip=_section(SipSettings, dict(raw.get("sip", {})), f"{where}: [sip]"),
        trunk=_section(TrunkSettings, dict(raw.get("trunk", {})), f"{where}: [trunk]"),
        speech=_section(SpeechSettings, dict(raw.get("speech", {})), f"{where}: [speech]"),
        store=_section(StoreSettings, dict(raw.get("store", {})), f"{where}: [store]"),
        mqtt=_section(MqttSettings, dict(raw.get("mqtt", {})), f"{where}: [mqtt]"),
        web=_section(WebSettings, dict(raw.get("web", {})), f"{where}: [web]"),
        flows_dir=flows_dir,
        audio_dir=audio_dir,
        numbers=numbers,
        default_flow=default_flow,
        queues=queues,
        seats=tuple(seats),
        log_level=str(raw.get("log_level", "INFO")),
        timezone=str(raw.get("timezone", "Asia/Shanghai")),
        cluster=_cluster(dict(raw.get("cluster", {})), where),
    )
    if settings.trunk.mode not in ("ip", "register"):
        raise ConfigError(f"{where}: [trunk] mode must be 'ip' or 'register'")
    if settings.trunk.mode == "register" and not settings.trunk.registrar:
        raise ConfigError(f"{where}: [trunk] mode 'register' needs registrar, username and password")
    if settings.sip.tls_port and not (settings.sip.tls_cert and settings.sip.tls_key):
        raise ConfigError(f"{where}: [sip] tls_port needs tls_cert and tls_key")
    return settings


def _cluster(raw: dict[str, Any], where: str) -> ClusterSettings:
    c: ClusterSettings = _section(ClusterSettings, raw, f"{where}: [cluster]")
    here = f"{where}: [cluster]"
    if not 1 <= c.nodes <= 64:
        raise ConfigError(f"{here} nodes must be 1..64, not {c.nodes}")
    for key in ("proxy_port", "node_sip_port", "node_rtp_port", "node_web_port"):
        value = getattr(c, key)
        if not isinstance(value, int) or not 0 <= value <= 65535:
            raise ConfigError(f"{here} {key} must be a port number (0..65535), not {value!r}")
    if c.node_rtp_span < 20:
        raise ConfigError(f"{here} node_rtp_span must be at least 20 ports")
    for entry in c.trunk_allow:
        try:
            ipaddress.ip_network(str(entry), strict=False)
        except ValueError as exc:
            raise ConfigError(f"{here} trunk_allow: {entry!r} is not an address or network") from exc
    if c.flood_invites < 1 or c.flood_window < 1 or c.probe_interval < 1:
        raise ConfigError(f"{here} flood_invites, flood_window and probe_interval must be at least 1")
    if c.invite_timeout <= 0:
        raise ConfigError(f"{here} invite_timeout must be positive")
    if c.location_db and not c.location_db.startswith("postgres://"):
        raise ConfigError(f"{here} location_db must be a postgres:// URL (or empty: in memory)")
    return c
