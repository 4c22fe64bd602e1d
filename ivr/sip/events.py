"""Small immutable events that pjsua2 callbacks hand to the asyncio loop, and the one error of a
command on a call that has gone.

Callbacks copy plain fields into these and return at once: no SWIG object crosses the thread seam.
A call is named by one id everywhere on the asyncio side: its SIP Call-ID (a str). The pjsua int
id is private to the pj thread (pjsua reuses it once a call ends, so it must not outlive a call).
"""

from __future__ import annotations

from dataclasses import dataclass


class CallGone(Exception):
    """A command named a call that has ended (it hung up while the command was queued)."""

    def __init__(self, call_id: str):
        super().__init__(f"call {call_id} has ended")
        self.call_id = call_id


@dataclass(frozen=True)
class IncomingCall:
    call_id: str  # SIP Call-ID
    caller: str  # user part of From, e.g. "13800138000"
    dialled: str  # user part of the request URI, e.g. "12345"
    source: str  # "ip:port" the INVITE came from


@dataclass(frozen=True)
class CallState:
    call_id: str
    state: str  # CALLING, EARLY, CONNECTING, CONFIRMED, DISCONNECTED
    status: int  # last SIP status code
    reason: str


@dataclass(frozen=True)
class MediaReady:
    call_id: str


@dataclass(frozen=True)
class Digit:
    call_id: str
    digit: str
    method: str  # "rfc2833" or "info"


@dataclass(frozen=True)
class Registration:
    code: int
    reason: str
    expires: int  # seconds; 0 when unregistered or failed


CallEvent = CallState | MediaReady | Digit
Event = IncomingCall | CallEvent | Registration
