"""Creating the pjsua2 Endpoint and account configuration from an `EngineConfig`.

pj thread only: called by ivr.sip.engine while it starts its thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pjsua2 as pj

from ivr.sip import capture, descriptors
from ivr.sip.clock import BridgeClock
from ivr.sip.guard import AllowList, Guard

log = logging.getLogger("ivr.sip.engine")
pjlog = logging.getLogger("pjsip")

# pjsua slots kept free above our own limit: an INVITE past the limit still takes a slot while we
# answer it 503 (pjsua itself would answer 486, which a proxy does not fail over on)
HEADROOM = 8
PTIME_MS = 20  # the bridge's frame: one RTP packet per call per tick


@dataclass(frozen=True)
class EngineConfig:
    bind: str = "127.0.0.1"
    port: int = 5070  # 0: any free port
    transports: tuple[str, ...] = ("udp", "tcp")
    tls_port: int = 0
    tls_cert: str = ""
    tls_key: str = ""
    rtp_port: int = 20000
    rtp_port_range: int = 4000
    max_calls: int = 1000
    overload_ms: int = 500  # 0: no overload guard
    retry_after: int = 5
    media_timeout: int = 60  # 0: calls never end for want of RTP
    session_expires: int = 1800  # 0: no session timers
    clock_rate: int = 8000
    user: str = "12345"  # our user part
    user_agent: str = "12345-hotline"
    allow: tuple[str, ...] | None = None  # None: accept INVITEs from anywhere (softphones)
    registrar: str = ""
    username: str = ""
    password: str = ""
    realm: str = "*"
    reg_expires: int = 300
    auto_answer: bool = True
    log_level: int = 3
    codecs: dict[str, int] = field(
        default_factory=lambda: {"PCMA/8000": 250, "PCMU/8000": 249, "G722/16000": 200}
    )


def registrar_host(uri: str) -> str:
    """'sip:gw.example.cn:5060;transport=udp' -> 'gw.example.cn'."""
    return uri.removeprefix("sip:").split(";")[0].rsplit(":", 1)[0]


class _LogWriter(pj.LogWriter):  # type: ignore[misc]
    def write(self, entry: Any) -> None:
        level = logging.WARNING if entry.level <= 2 else logging.DEBUG
        pjlog.log(level, "%s", entry.msg.rstrip())


class Opened(NamedTuple):
    ep: pj.Endpoint
    writer: _LogWriter  # pjsua2 holds no reference of its own: keep it as long as the Endpoint
    sip_port: int
    max_calls: int  # what pjsua will really allow, which can be less than asked
    clock: BridgeClock  # the pj thread ticks the conference bridge (see ivr.sip.clock)
    guard: Guard  # pjsip holds a pointer to its module: keep it as long as the Endpoint


def open_endpoint(c: EngineConfig) -> Opened:
    """pj thread: create, configure and start the Endpoint with its transports."""
    capture.quiet_pjlib()
    wanted = descriptors.fit_call_limit(c.max_calls)  # open files first: sockets come next
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.uaConfig.maxCalls = wanted + HEADROOM
    cfg.uaConfig.userAgent = c.user_agent
    cfg.uaConfig.mwiUnsolicitedEnabled = False  # no voicemail here: a stray NOTIFY gets no 200
    writer = _LogWriter()
    cfg.logConfig.writer = writer
    cfg.logConfig.level = c.log_level
    cfg.logConfig.consoleLevel = 0
    cfg.logConfig.decor = 0
    cfg.medConfig.clockRate = c.clock_rate
    cfg.medConfig.sndClockRate = c.clock_rate
    cfg.medConfig.ecTailLen = 0  # an IVR has no loudspeaker to cancel
    cfg.medConfig.noVad = True
    cfg.medConfig.audioFramePtime = PTIME_MS
    cfg.medConfig.maxMediaPorts = max(254, c.max_calls * 4)
    ep.libInit(cfg)
    guard = Guard(AllowList(c.allow))
    guard.register()
    tcfg = pj.TransportConfig()
    tcfg.port = c.port
    tcfg.boundAddress = c.bind
    tcfg.publicAddress = c.bind
    transport_ids = []
    if "udp" in c.transports:
        transport_ids.append(ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg))
    if "tcp" in c.transports:
        transport_ids.append(ep.transportCreate(pj.PJSIP_TRANSPORT_TCP, tcfg))
    if c.tls_port:
        tls = pj.TransportConfig()
        tls.port = c.tls_port
        tls.boundAddress = c.bind
        tls.tlsConfig.certFile = c.tls_cert
        tls.tlsConfig.privKeyFile = c.tls_key
        ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, tls)
    sip_port = int(ep.transportGetInfo(transport_ids[0]).localName.rsplit(":", 1)[1])
    ep.libStart()
    clock = BridgeClock(c.clock_rate, PTIME_MS)  # instead of a sound device and its clock thread
    for codec in ep.codecEnum2():
        ep.codecSetPriority(codec.codecId, 0)
    for name, prio in c.codecs.items():
        try:
            ep.codecSetPriority(name, prio)
        except pj.Error:
            log.warning("codec %s not available", name)
    max_calls = min(wanted, capture.max_calls() - HEADROOM)
    if max_calls < wanted:
        log.warning("pjsua2 limits this process to %d concurrent calls (asked %d)", max_calls, wanted)
    return Opened(ep, writer, sip_port, max_calls, clock, guard)


def account_config(c: EngineConfig, sip_port: int) -> pj.AccountConfig:
    """Our identity, RTP range and (for a registering trunk) registration and credentials."""
    acfg = pj.AccountConfig()
    acfg.idUri = f"sip:{c.user}@{c.bind}:{sip_port}"
    acfg.mediaConfig.transportConfig.port = c.rtp_port
    acfg.mediaConfig.transportConfig.portRange = c.rtp_port_range
    acfg.mediaConfig.transportConfig.boundAddress = c.bind
    if c.session_expires:
        # RFC 4028 when the peer supports it: a refresh that fails (a peer gone without its BYE)
        # ends the call; Min-SE is the RFC's floor of 90 s
        acfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_OPTIONAL
        acfg.callConfig.timerMinSESec = 90
        acfg.callConfig.timerSessExpiresSec = max(90, c.session_expires)
    else:
        acfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_INACTIVE
    if c.registrar:
        acfg.idUri = f"sip:{c.username}@{registrar_host(c.registrar)}"
        acfg.regConfig.registrarUri = c.registrar
        acfg.regConfig.timeoutSec = c.reg_expires
        acfg.regConfig.retryIntervalSec = 5
        acfg.regConfig.firstRetryIntervalSec = 2
        acfg.regConfig.randomRetryIntervalSec = 2
        acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", c.realm, c.username, 0, c.password))
    return acfg
