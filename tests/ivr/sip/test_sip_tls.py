"""SIP over TLS when a certificate is configured: a real TLS client talks SIP to `ivr serve`."""

from __future__ import annotations

import socket
import ssl
import subprocess
import uuid
from pathlib import Path

import pytest
from sip_peers import free_port, serve, write_config

pytestmark = pytest.mark.sip


def test_tls_transport_answers_sip(tmp_path: Path) -> None:
    cert, key = tmp_path / "line.crt", tmp_path / "line.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    tls_port, sip_port = free_port(), free_port()
    extra_sip = f'tls_port = {tls_port}\ntls_cert = "{cert}"\ntls_key = "{key}"\n'
    cfg = write_config(tmp_path / "config.toml", sip_port=sip_port)
    cfg.write_text(cfg.read_text().replace("[trunk]", extra_sip + "[trunk]", 1))
    with serve(cfg) as server:
        assert f"TLS on 127.0.0.1:{tls_port}" in server.wait_log("SIP listening")
        ctx = ssl.create_default_context(cafile=str(cert))
        ctx.check_hostname = False
        with (
            socket.create_connection(("127.0.0.1", tls_port), timeout=10) as raw,
            ctx.wrap_socket(raw) as tls,
        ):
            local = tls.getsockname()
            branch, tag = uuid.uuid4().hex[:12], uuid.uuid4().hex[:8]
            request = (
                f"OPTIONS sip:12345@127.0.0.1:{tls_port};transport=tls SIP/2.0\r\n"
                f"Via: SIP/2.0/TLS {local[0]}:{local[1]};branch=z9hG4bK{branch}\r\n"
                f"From: <sip:probe@127.0.0.1>;tag={tag}\r\nTo: <sip:12345@127.0.0.1>\r\n"
                f"Call-ID: {uuid.uuid4().hex}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                "Content-Length: 0\r\n\r\n"
            )
            tls.sendall(request.encode())
            reply = tls.recv(4096).decode(errors="replace")
        assert reply.startswith("SIP/2.0 200"), reply
        assert "Allow:" in reply and "INVITE" in reply
