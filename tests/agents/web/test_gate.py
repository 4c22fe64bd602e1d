"""What every request passes: the Host check, the Origin check, the security headers, and HTTPS
when a certificate is configured (a self-signed one made here with openssl)."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import httpx
import websockets
from web_rig import Rig

from ivr.store import AuditQuery


async def test_a_foreign_host_is_refused(rig: Rig) -> None:
    r = await rig.http.get("/api/openapi.json", headers={"host": "evil.example"})
    assert r.status_code == 421
    r = await rig.http.post(
        "/api/login", json={"seat_id": "1001", "password": "pw1001"}, headers={"host": "evil.example:8345"}
    )
    assert r.status_code == 421 and r.headers["cache-control"] == "no-store"
    for host in ("localhost", "127.0.0.1:8345", "[::1]:8345"):
        assert (await rig.http.get("/api/openapi.json", headers={"host": host})).status_code == 200


async def test_a_configured_name_is_answered(tmp_path: Path) -> None:
    rig = Rig(tmp_path, extra={"web": {"hosts": ["hotline.city.gov.cn"]}})
    await rig.start()
    try:
        r = await rig.http.get("/api/openapi.json", headers={"host": "hotline.city.gov.cn"})
        assert r.status_code == 200
    finally:
        await rig.stop()


async def test_another_origin_cannot_change_anything(rig: Rig) -> None:
    h = await rig.login("1001")
    port = rig.server.url.rsplit(":", 1)[1].rstrip("/")
    foreign = {**h, "origin": "http://evil.example"}
    r = await rig.http.post("/api/seats/1001/state", json={"action": "login"}, headers=foreign)
    assert r.status_code == 403
    assert rig.acd.seats["1001"].state.value == "logged_out"
    own = {**h, "origin": f"http://127.0.0.1:{port}"}
    r = await rig.http.post("/api/seats/1001/state", json={"action": "login"}, headers=own)
    assert r.status_code == 200
    assert (await rig.http.get("/api/me", headers=foreign)).status_code == 200  # reads: CORS guards them
    ticket = (await rig.http.post("/api/live/ticket", headers=h)).json()["ticket"]
    url = rig.server.url.replace("http", "ws") + f"api/live?ticket={ticket}"
    try:
        async with websockets.connect(url, origin="http://evil.example") as ws:  # type: ignore[arg-type]
            await ws.recv()
        raise AssertionError("a foreign page opened the live socket")
    except websockets.exceptions.InvalidStatus as exc:
        assert exc.response.status_code == 403


async def test_security_headers(rig: Rig) -> None:
    page = await rig.http.get("/static/index.html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "<script>" not in page.text  # the policy allows no inline script: the page has none
    assert "cache-control" not in page.headers or "no-store" not in page.headers["cache-control"]
    api = await rig.http.get("/api/me", headers=await rig.login("1001"))
    assert api.headers["cache-control"] == "no-store" and api.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in api.headers  # plain HTTP on loopback
    assert "server" not in api.headers


async def test_a_forbidden_request_is_audited(rig: Rig) -> None:
    h = await rig.login("1001")
    assert (await rig.http.get("/api/seats/1002", headers=h)).status_code == 403
    assert (await rig.http.get("/api/board", headers=h)).status_code == 403
    await rig.store.audit.flush()
    refused = await rig.store.audit.search(AuditQuery(action="refused"))
    assert {(e.actor, e.subject) for e in refused} == {
        ("seat:1001", "GET /api/seats/1002"),
        ("seat:1001", "GET /api/board"),
    }
    assert all(e.address == "127.0.0.1" for e in refused)


def self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "console.pem", folder / "console.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


async def test_https_when_a_certificate_is_configured(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    rig = Rig(tmp_path, extra={"web": {"cert": str(cert), "key": str(key)}})
    rig.verify = ssl.create_default_context(cafile=str(cert))  # the client trusts exactly this one
    await rig.start()
    try:
        assert rig.server.url.startswith("https://127.0.0.1:")
        h = await rig.login("1001")
        me = await rig.http.get("/api/me", headers=h)
        assert me.status_code == 200 and me.headers["strict-transport-security"].startswith("max-age=")
        plain = rig.server.url.replace("https://", "http://")
        async with httpx.AsyncClient(timeout=5) as http:  # plain HTTP gets nothing from it
            try:
                r = await http.get(plain + "api/openapi.json")
                assert r.status_code == 400
            except httpx.HTTPError:
                pass
    finally:
        await rig.stop()
