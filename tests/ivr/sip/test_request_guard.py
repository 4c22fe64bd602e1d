"""The SIP door (ivr.sip.guard) on a running `ivr serve`: every method from an address outside
the trunk's allow-list gets 403 (an ACK is dropped), no presence or pager service answers from
anywhere, a flood writes a few log lines, and the trunk itself is still served."""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path

import pytest
from sip_peers import free_port, serve, sipp, write_config

from ivr.sip.guard import AllowList

pytestmark = pytest.mark.sip


def request(method: str, port: int, source: str, *, event: str = "", body: bytes = b"") -> bytes:
    """One out-of-dialog request over UDP from `source` (any 127.x address is this machine)."""
    call_id = uuid.uuid4().hex
    extra = f"Event: {event}\r\nAccept: application/pidf+xml\r\nExpires: 600\r\n" if event else ""
    head = (
        f"{method} sip:12345@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {source}:{{lport}};branch=z9hG4bK{call_id[:12]};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:scanner@{source}>;tag={call_id[:8]}\r\n"
        f"To: <sip:12345@127.0.0.1:{port}>\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: 1 {method}\r\n"
        f"Contact: <sip:scanner@{source}:{{lport}}>\r\n"
        f"{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.settimeout(2)
        s.sendto(head.format(lport=s.getsockname()[1]).encode() + body, ("127.0.0.1", port))
        replies = []
        try:
            while True:
                replies.append(s.recv(65535))
                s.settimeout(0.5)
        except TimeoutError:
            pass
    return b"\n".join(r.split(b"\r\n", 1)[0] for r in replies)


def tcp_request(method: str, port: int, source: str) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((source, 0))
        s.settimeout(3)
        s.connect(("127.0.0.1", port))
        lport = s.getsockname()[1]
        s.sendall(
            (
                f"{method} sip:12345@127.0.0.1:{port};transport=tcp SIP/2.0\r\n"
                f"Via: SIP/2.0/TCP {source}:{lport};branch=z9hG4bKtcp{lport}\r\n"
                f"From: <sip:scanner@{source}>;tag=t{lport}\r\nTo: <sip:12345@127.0.0.1:{port}>\r\n"
                f"Call-ID: tcp{lport}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
            ).encode()
        )
        return s.recv(65535).split(b"\r\n", 1)[0]


def test_foreign_addresses_get_403_for_every_method_and_nothing_else(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "config.toml", sip_port=free_port())
    with serve(cfg) as server:
        foreign = "127.0.0.9"
        for method in ("OPTIONS", "MESSAGE", "NOTIFY", "PUBLISH", "REGISTER", "INFO", "BOGUS"):
            assert request(method, server.port, foreign) == b"SIP/2.0 403 Forbidden", method
        # a presence SUBSCRIBE: one 403 back, no 200 and no NOTIFYs (it was 200 + 4 NOTIFYs)
        assert request("SUBSCRIBE", server.port, foreign, event="presence") == b"SIP/2.0 403 Forbidden"
        assert request("ACK", server.port, foreign) == b""
        assert tcp_request("OPTIONS", server.port, foreign) == b"SIP/2.0 403 Forbidden"  # TCP alike
        # a flood from the foreign address: a few log lines, not one per request
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((foreign, 0))
            for i in range(300):
                s.sendto(
                    (
                        "OPTIONS sip:12345@127.0.0.1 SIP/2.0\r\n"
                        f"Via: SIP/2.0/UDP {foreign};branch=z9hG4bKf{i}\r\n"
                        f"From: <sip:x@{foreign}>;tag=f{i}\r\nTo: <sip:12345@127.0.0.1>\r\n"
                        f"Call-ID: flood{i}\r\n"
                        "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
                    ).encode(),
                    ("127.0.0.1", server.port),
                )
        time.sleep(1.5)
        # the trunk itself: OPTIONS answered (a proxy's probe), services it has not got refused
        assert request("OPTIONS", server.port, "127.0.0.1") == b"SIP/2.0 200 OK"
        for method in ("MESSAGE", "NOTIFY", "PUBLISH"):
            assert request(method, server.port, "127.0.0.1") == b"SIP/2.0 501 Not Implemented", method
        assert (
            request("SUBSCRIBE", server.port, "127.0.0.1", event="presence") == b"SIP/2.0 501 Not Implemented"
        )
        # an INVITE from the foreign address: 403, and a call from the trunk still goes through
        res = sipp("uac_pcap", f"127.0.0.1:{server.port}", tmp_path, "-i", foreign, timeout=20)
        assert res.returncode != 0
        errors = "".join(p.read_text(errors="replace") for p in tmp_path.glob("uac_pcap_*_errors.log"))
        assert "SIP/2.0 403" in errors
        for p in tmp_path.glob("uac_pcap_*_errors.log"):
            p.unlink()
        ok = sipp("uac_pcap", f"127.0.0.1:{server.port}", tmp_path, timeout=40)
        assert ok.returncode == 0, ok.stderr[-2000:]
        log = server.wait_log("ended after")
    refused = [line for line in log.splitlines() if "rejected with 403" in line]
    assert 1 <= len(refused) <= 8, refused
    assert "Traceback" not in log


def test_the_allow_list_takes_addresses_and_networks() -> None:
    trunk = AllowList(["10.1.2.3", "192.168.0.0/16", "fd00::/8"])
    assert trunk.allows("10.1.2.3") and trunk.allows("192.168.44.5") and trunk.allows("[fd00::1]")
    assert not trunk.allows("10.1.2.4") and not trunk.allows("not-an-address") and not trunk.allows("")
    assert not AllowList(()).allows("127.0.0.1")  # a softphone that only calls out takes no requests
    assert AllowList(None).allows("203.0.113.7")  # one that answers takes them from anywhere
