"""HTTP plumbing shared by the console's endpoints: errors as JSON with a status and a message
the operator can read, bounded JSON bodies, the session token."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # a ticket is a few KB; anything larger is a mistake or abuse
Endpoint = Callable[[Request], Awaitable[Response]]


class ApiError(Exception):
    """A refused request: answered with `status` and {"error": message}; nothing changed."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


def endpoint(fn: Endpoint) -> Endpoint:
    """Turns ApiError into its answer, and any other failure into a logged 500."""

    @functools.wraps(fn)
    async def wrapped(request: Request) -> Response:
        try:
            return await fn(request)
        except ApiError as exc:
            return error(exc.status, exc.message, exc.headers)
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            return error(500, "服务器内部错误，请稍后重试")

    return wrapped


async def read_json(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise ApiError(413, f"请求体过大（上限 {MAX_BODY // 1024} KB）")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ApiError(413, f"请求体过大（上限 {MAX_BODY // 1024} KB）")
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"请求体不是合法的 JSON：{exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "请求体应为 JSON 对象")
    return data


def token_of(request: Request) -> str:
    """The Bearer token of the Authorization header, the only place a token is read from (in a
    URL it would land in logs, history and Referer headers); the live socket uses a one-use
    ticket instead (agents/web/live.py). A token in the query string is refused outright."""
    if "token" in request.query_params:
        raise ApiError(400, "令牌不能放在网址中，请使用 Authorization 请求头")
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return ""


def client_address(request: Request) -> str:
    """The peer's address (the console is reached directly, not through a proxy)."""
    return request.client.host if request.client is not None else ""


def text_field(data: dict[str, Any], name: str, *, required: bool = True, limit: int = 200) -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        raise ApiError(400, f"字段 {name} 应为字符串")
    if required and not value:
        raise ApiError(400, f"缺少字段 {name}")
    if len(value) > limit:
        raise ApiError(413, f"字段 {name} 超过 {limit} 字")
    return value
