"""The door of the SIP stack: requests outside a call from addresses not on the trunk's
allow-list get 403 whatever their method, and the methods the line offers no service for
(SUBSCRIBE, NOTIFY, MESSAGE, PUBLISH, REFER, REGISTER, ...) get 501, before pjsua sees them.

pjsua answers OPTIONS itself, takes MESSAGE (200 first, then the pager callback), accepts
presence SUBSCRIBEs (200 and NOTIFYs: a 353-byte SUBSCRIBE brought back about 9x its size) and
unsolicited MWI NOTIFYs, and pjsua2 offers no hook before those answers. So this registers a
pjsip module of its own through the C API (ctypes on the libraries the pjsua2 module links, as
ivr.sip.capture does) at priority 33: just after the UA layer (32), which has already taken
every request of a dialog we are in (a seat's BYE, a trunk's re-INVITE) or answered 481 for an
unknown one, and before pjsua's modules (64). What reaches it is a request outside any dialog:
INVITE, OPTIONS, CANCEL, and whatever else a scanner sends. INVITEs that pass are judged by
ivr.sip.admission.

The callback runs inside libHandleEvents on the pj thread and answers statelessly; it never
raises into C. Its view of `pjsip_rx_data` is the 2.12 layout (PJSIP_MAX_PKT_LEN 4000), and the
first request checks that the source address read there parses as one: if it does not (a
pjproject built otherwise), the guard logs an error and steps aside rather than misjudge.
"""

from __future__ import annotations

import ctypes
import ipaddress
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from ivr.logflood import Throttle

log = logging.getLogger("ivr.sip.engine")

PRIORITY = 33  # PJSIP_MOD_PRIORITY_UA_PROXY_LAYER + 1
SERVED = frozenset({"INVITE", "OPTIONS", "CANCEL", "ACK", "BYE"})  # what pjsua may go on to answer
PJSIP_MAX_PKT_LEN = 4000
PJ_INET6_ADDRSTRLEN = 46

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AllowList:
    """Trunk addresses and networks ('10.1.2.3', '10.1.0.0/16'); None allows every address."""

    def __init__(self, entries: Iterable[str] | None) -> None:
        self.open = entries is None
        self.networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(e, strict=False) for e in (entries or ()) if e.strip()
        )

    def allows(self, host: str) -> bool:
        if self.open:
            return True
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return False
        return any(address in n for n in self.networks)


# -- the C side: the parts of pjsip's structs this module reads (pjproject 2.12, 64-bit) --
class _Str(ctypes.Structure):
    _fields_ = [("ptr", ctypes.c_void_p), ("slen", ctypes.c_ssize_t)]


_RX = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
_TX = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class _Module(ctypes.Structure):
    _fields_ = [
        ("prev", ctypes.c_void_p),
        ("next", ctypes.c_void_p),
        ("name", _Str),
        ("id", ctypes.c_int),
        ("priority", ctypes.c_int),
        ("load", ctypes.c_void_p),
        ("start", ctypes.c_void_p),
        ("stop", ctypes.c_void_p),
        ("unload", ctypes.c_void_p),
        ("on_rx_request", _RX),
        ("on_rx_response", ctypes.c_void_p),
        ("on_tx_request", ctypes.c_void_p),
        ("on_tx_response", ctypes.c_void_p),
        ("on_tsx_state", ctypes.c_void_p),
    ]


class _OpKey(ctypes.Structure):  # pjsip_rx_data_op_key: pj_ioqueue_op_key_t + the rdata
    _fields_ = [
        ("internal", ctypes.c_void_p * 32),
        ("activesock", ctypes.c_void_p),
        ("user", ctypes.c_void_p),
    ]
    _fields_ += [("rdata", ctypes.c_void_p)]


class _TpInfo(ctypes.Structure):
    _fields_ = [("pool", ctypes.c_void_p), ("transport", ctypes.c_void_p), ("tp_data", ctypes.c_void_p)]
    _fields_ += [("op_key", _OpKey)]


class _PktInfo(ctypes.Structure):
    _fields_ = [
        ("sec", ctypes.c_long),
        ("msec", ctypes.c_long),
        ("packet", ctypes.c_char * PJSIP_MAX_PKT_LEN),
        ("zero", ctypes.c_uint32),
        ("len", ctypes.c_ssize_t),
        ("src_addr", ctypes.c_uint32 * 7),  # pj_sockaddr: 28 bytes, 4-aligned
        ("src_addr_len", ctypes.c_int),
        ("src_name", ctypes.c_char * PJ_INET6_ADDRSTRLEN),
        ("src_port", ctypes.c_int),
    ]


class _MsgInfo(ctypes.Structure):
    _fields_ = [("msg_buf", ctypes.c_void_p), ("len", ctypes.c_int)]


class _RxData(ctypes.Structure):
    _fields_ = [("tp_info", _TpInfo), ("pkt_info", _PktInfo), ("msg_info", _MsgInfo)]


def _libs() -> tuple[ctypes.CDLL, ctypes.CDLL]:
    import pjsua2

    folder = Path(os.path.dirname(pjsua2.__file__))
    sua, sip = ctypes.CDLL(str(folder / "libpjsua.so.2")), ctypes.CDLL(str(folder / "libpjsip.so.2"))
    sua.pjsua_get_pjsip_endpt.restype = ctypes.c_void_p
    sua.pjsua_get_pjsip_endpt.argtypes = []
    sip.pjsip_endpt_register_module.restype = ctypes.c_int
    sip.pjsip_endpt_register_module.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    sip.pjsip_endpt_respond_stateless.restype = ctypes.c_int
    sip.pjsip_endpt_respond_stateless.argtypes = [
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    return sua, sip


class Guard:
    """Registered once on the pj thread after libInit; lives as long as the Endpoint."""

    def __init__(self, allow: AllowList) -> None:
        self.allow = allow
        self.refused = 0  # requests answered 403 or 501 (or dropped) since start
        self._throttle = Throttle(log)
        self._checked = False
        self._off = False
        self._name = ctypes.create_string_buffer(b"mod-hotline-guard")
        self._cb = _RX(self._on_rx_request)  # kept alive with the module
        self._module = _Module()
        self._module.name = _Str(ctypes.cast(self._name, ctypes.c_void_p), len(self._name.value))
        self._module.id = -1
        self._module.priority = PRIORITY
        self._module.on_rx_request = self._cb
        self._sua, self._sip = _libs()
        self._endpt = 0

    def register(self) -> None:
        endpt = self._sua.pjsua_get_pjsip_endpt()
        if not endpt:
            raise RuntimeError("pjsua has no SIP endpoint yet")
        status = self._sip.pjsip_endpt_register_module(endpt, ctypes.byref(self._module))
        if status != 0:
            raise RuntimeError(f"pjsip_endpt_register_module failed: {status}")
        self._endpt = endpt

    def _on_rx_request(self, rdata: int | None) -> int:
        try:
            return self._judge(rdata) if rdata and not self._off else 0
        except Exception:  # never into C: let pjsua answer as it would have
            log.exception("SIP guard failed; requests go to pjsua unchecked")
            self._off = True
            return 0

    def _judge(self, rdata: int) -> int:
        rx = _RxData.from_address(rdata)
        host = rx.pkt_info.src_name.decode("ascii", "replace")
        if not self._checked:
            try:
                ipaddress.ip_address(host)
            except ValueError:
                log.error("SIP guard: pjsip's rx_data layout is not the one expected; guard off")
                self._off = True
                return 0
            self._checked = True
        head = (
            ctypes.string_at(rx.msg_info.msg_buf, min(max(rx.msg_info.len, 0), 32))
            if rx.msg_info.msg_buf
            else b""
        )
        method = head.split(b" ", 1)[0].decode("ascii", "replace")[:16]
        source = f"{host}:{rx.pkt_info.src_port}"
        if not self.allow.allows(host):
            self.refused += 1
            if method == "ACK":  # no answer to an ACK; nothing of ours to acknowledge
                return 1
            why = "%s from %s rejected with 403: not a trunk address"
            self._throttle.log(logging.WARNING, "foreign", why, method, source)
            self._respond(rdata, 403)
            return 1
        if method in SERVED:
            return 0
        self.refused += 1
        self._throttle.log(
            logging.INFO, "method", "%s from %s answered 501: no such service here", method, source
        )
        self._respond(rdata, 501)
        return 1

    def _respond(self, rdata: int, status: int) -> None:
        self._sip.pjsip_endpt_respond_stateless(self._endpt, rdata, status, None, None, None)
