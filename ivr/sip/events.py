"""Small immutable events that pjsua2 callbacks hand to the asyncio loop.

Callbacks copy plain fields into these and return at once: no SWIG object crosses the thread seam.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IncomingCall:
    call_id: int
    caller: str  # user part of From, e.g. "13800138000"
    dialled: str  # user part of the request URI, e.g. "12345"
    source: str  # "ip:port" the INVITE came from
    sip_call_id: str


@dataclass(frozen=True)
class CallState:
    call_id: int
    state: str  # CALLING, EARLY, CONNECTING, CONFIRMED, DISCONNECTED
    status: int  # last SIP status code
    reason: str


@dataclass(frozen=True)
class MediaReady:
    call_id: int


@dataclass(frozen=True)
class Digit:
    call_id: int
    digit: str
    method: str  # "rfc2833" or "info"


@dataclass(frozen=True)
class Registration:
    code: int
    reason: str
    expires: int  # seconds; 0 when unregistered or failed


Event = IncomingCall | CallState | MediaReady | Digit | Registration
