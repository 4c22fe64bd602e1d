"""The fuzz run: a corpus of malformed SIP (tests/ivr/sip/fuzz_corpus.py) sent over UDP and TCP,
from the trunk and from a foreign address, to a running `ivr serve`; then a normal call must
succeed, the process must still be alive and its log free of tracebacks. A caller that never
ACKs our 200 OK is part of it: one log line, no traceback."""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path

import pytest
from fuzz_corpus import SDP, corpus
from sip_peers import free_port, serve, sipp, write_config

pytestmark = pytest.mark.sip
FUZZ_SECONDS = 60  # the whole corpus, both transports, is sent within this


def invite_without_ack(port: int) -> socket.socket:
    """An INVITE whose sender will never ACK the answer (the socket stays open, silent)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    lp, call_id = s.getsockname()[1], uuid.uuid4().hex
    msg = (
        f"INVITE sip:12345@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{lp};branch=z9hG4bK{call_id[:12]};rport\r\n"
        f"From: <sip:13800138000@127.0.0.1:{lp}>;tag={call_id[:6]}\r\n"
        f"To: <sip:12345@127.0.0.1:{port}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n"
        f"Contact: <sip:13800138000@127.0.0.1:{lp}>\r\nMax-Forwards: 70\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(SDP)}\r\n\r\n{SDP}"
    )
    s.sendto(msg.encode(), ("127.0.0.1", port))
    return s


def send_udp(messages: list[bytes], port: int, source: str, deadline: float) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        for m in messages:
            if time.monotonic() > deadline:
                break
            s.sendto(m, ("127.0.0.1", port))
            time.sleep(0.002)


def send_tcp(messages: list[bytes], port: int, deadline: float) -> None:
    for m in messages:
        if time.monotonic() > deadline:
            break
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            try:
                s.sendall(m)
                s.settimeout(0.02)
                s.recv(65535)
            except OSError:  # the line closed a connection that sent garbage: as it should
                pass


def test_malformed_sip_over_udp_and_tcp_then_a_normal_call_succeeds(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "config.toml", sip_port=free_port(), extra="[queues.general]\n[queues.urgent]\n"
    )
    with serve(cfg, duration=240) as server:
        silent = invite_without_ack(server.port)
        try:
            messages = corpus(server.port)
            assert len(messages) == 300
            deadline = time.monotonic() + FUZZ_SECONDS
            send_udp(messages, server.port, "127.0.0.1", deadline)
            send_udp(messages[::3], server.port, "127.0.0.9", deadline)  # the guard's side
            send_tcp(messages[::2], server.port, deadline)
            assert server.proc.poll() is None, server.log_text()[-3000:]
            ok = sipp("uac_pcap", f"127.0.0.1:{server.port}", tmp_path, timeout=40)
            assert ok.returncode == 0, ok.stderr[-2000:]
            server.wait_log("never ACKed our 200 OK", timeout=45)
        finally:
            silent.close()
        assert server.proc.poll() is None
    log = server.log_text()  # after the line stopped: its shutdown is part of the run
    assert "Traceback" not in log, log[log.index("Traceback") - 2000 :][:6000]
    assert log.count("never ACKed our 200 OK") >= 1
