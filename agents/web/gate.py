"""What every request to the console passes first, as one ASGI layer around the app.

- Host: only the names the console is reached by ([web] bind, [web] hosts, loopback names);
  anything else gets 421 (a DNS-rebinding page cannot talk to it).
- Origin: a browser's state-changing request or live socket from another origin is refused
  (403). Requests without Origin (scripts, curl) pass: tokens ride in a header, not a cookie, so
  they carry nothing a foreign page could borrow.
- Headers: a Content-Security-Policy without inline scripts, no framing, no sniffing, no
  Referer, HSTS over HTTPS, and `Cache-Control: no-store` on every API answer (citizens' data
  must not stay in a shared browser's cache).
- Each answered request is shown to `observe` (the audit trail's reads, exports and refusals).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ivr.policy import LOOPBACK_NAMES

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
    " connect-src 'self'; media-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self';"
    " frame-ancestors 'none'"
)
PAGE_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
NO_STORE = ((b"cache-control", b"no-store"), (b"pragma", b"no-cache"))
HSTS = ((b"strict-transport-security", b"max-age=31536000"),)


@dataclass(frozen=True)
class Answered:
    """One request as the audit trail sees it."""

    method: str
    path: str
    query: str
    status: int
    token: str  # the Bearer token, to name the actor (never stored)
    address: str


def host_name(host: str) -> str:
    """The name of a Host header without its port ("[::1]:8345" -> "::1")."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else ""
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def allowed_hosts(bind: str, hosts: Iterable[str]) -> frozenset[str]:
    names = {*LOOPBACK_NAMES, *(h.lower() for h in hosts)}
    if bind not in ("0.0.0.0", "::", ""):
        names.add(bind.lower())
    return frozenset(names)


class Gate:
    def __init__(
        self, app: ASGIApp, hosts: frozenset[str], *, tls: bool, observe: Callable[[Answered], None]
    ) -> None:
        self._app = app
        self._hosts = hosts
        self._extra = PAGE_HEADERS + (HSTS if tls else ())
        self._observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        refusal = ""
        status = 0
        if host_name(host) not in self._hosts:
            status, refusal = 421, f"不受理发往 {host or '(无)'} 的请求"
        elif scope["type"] == "websocket" or scope["method"] not in SAFE_METHODS:
            origin = headers.get("origin")
            if origin is not None and urlsplit(origin).netloc.lower() != host.lower():
                status, refusal = 403, "拒绝跨站请求"
        answered = self._answered(scope, headers)
        if refusal:
            await self._refuse(scope, send, status, refusal)
            self._observe(answered(status))
            return
        api = scope["path"].startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = self._extra + (NO_STORE if api else ())
                names = {name for name, _ in extra}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": [*kept, *extra]}
                if api:  # recorded before the answer leaves: a read is audited before it is seen
                    self._observe(answered(int(message["status"])))
            await send(message)

        await self._app(scope, receive, send_with_headers)

    @staticmethod
    def _answered(scope: Scope, headers: Headers) -> Callable[[int], Answered]:
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        client = scope.get("client")
        address = str(client[0]) if client else ""
        method = scope.get("method", "WEBSOCKET")
        query = scope.get("query_string", b"").decode("latin-1")

        def at(status: int) -> Answered:
            return Answered(method, scope["path"], query, status, token, address)

        return at

    async def _refuse(self, scope: Scope, send: Send, status: int, message: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4000 + status, "reason": str(status)})
            return
        body = json.dumps({"error": message, "status": status}, ensure_ascii=False).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *self._extra,
                    *NO_STORE,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
