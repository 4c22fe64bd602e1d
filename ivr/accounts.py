"""Operator consoles' broker accounts: issued at sign-in, revoked at sign-out and when the session
ends, through Mosquitto's dynamic security plugin (dynsec) over the line's own connection.

An account is `seat-<seat>-<12 hex of the session key>`, usable with that client id only, with
the role `hotline-seat-<seat>` (`Topics.seat_acls`): it reads its seat's topics, sends its seat's
commands and ticket updates, and nothing else. Deleting it makes the broker disconnect the
console at once. Its description holds the session key (a hash of the console's token, never
the token) and its name the line that issued it: `sweep` deletes the accounts this line issued
whose session has ended (a line only knows the sessions of its own store).

Requests and answers pair up by correlation data: one future per request, removed in `finally`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ivr.bus import DYNSEC, DYNSEC_RESPONSE, Bus, BusError

log = logging.getLogger(__name__)

SEAT_PREFIX = "seat-"
EXISTS = "already exists"  # dynsec's answer to creating what is there (roles, ACLs)


class AccountError(RuntimeError):
    pass


@dataclass(frozen=True)
class SeatAccount:
    """What a console needs to connect: connect with `client_id` or the broker refuses."""

    seat_id: str
    username: str
    password: str
    host: str
    port: int
    tls: bool
    topic_base: str  # everything of the seat is under this

    @property
    def client_id(self) -> str:
        return self.username

    def as_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "tls": self.tls,
            "username": self.username,
            "password": self.password,
            "client_id": self.client_id,
            "topic_base": self.topic_base,
        }


def username(seat_id: str, session_key: str) -> str:
    return f"{SEAT_PREFIX}{seat_id}-{session_key[:12]}"


class SeatAccounts:
    def __init__(self, bus: Bus, *, timeout: float = 5.0) -> None:
        self._bus = bus
        self._timeout = timeout
        self._pending: dict[str, asyncio.Future[list[dict[str, Any]]]] = {}

    def attach(self) -> None:
        """Call before `bus.start()`: the broker's answers arrive on the line's subscription."""
        self._bus.subscribe(DYNSEC_RESPONSE, self._on_response)

    async def _on_response(self, topic: str, data: dict[str, Any]) -> None:
        responses = data.get("responses", [])
        if not isinstance(responses, list):
            return
        by_request: dict[str, list[dict[str, Any]]] = {}
        for r in responses:
            if isinstance(r, dict):
                request = str(r.get("correlationData", "")).split(":", 1)[0]
                by_request.setdefault(request, []).append(r)
        for request, answers in by_request.items():
            fut = self._pending.get(request)
            if fut is not None and not fut.done():
                fut.set_result(answers)

    async def _run(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send `commands` in one message; their answers, in order. AccountError if the broker
        does not answer (no dynsec, or the line's account may not use its control topic)."""
        request = uuid.uuid4().hex
        for i, command in enumerate(commands):
            command["correlationData"] = f"{request}:{i}"
        fut: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
        self._pending[request] = fut
        try:
            await self._bus.send_now(DYNSEC, json.dumps({"commands": commands}).encode())
            async with asyncio.timeout(self._timeout):
                return await fut
        except BusError as exc:
            raise AccountError(str(exc)) from exc
        except TimeoutError as exc:
            raise AccountError(
                f"the broker did not answer on {DYNSEC_RESPONSE} within {self._timeout:.0f} s "
                "(dynamic security plugin loaded? the line's account allowed to use it?)"
            ) from exc
        finally:
            self._pending.pop(request, None)

    async def issue(self, seat_id: str, session_key: str) -> SeatAccount:
        """A new account for the console of `seat_id` signed in with `session_key`; the seat's
        other accounts go (one console per seat)."""
        topics = self._bus.topics
        role = f"hotline-seat-{seat_id}"
        try:
            acls = topics.seat_acls(seat_id)
        except ValueError as exc:  # an id that is not one topic level cannot be fenced in
            raise AccountError(str(exc)) from exc
        name, password = username(seat_id, session_key), secrets.token_urlsafe(24)
        commands: list[dict[str, Any]] = [{"command": "createRole", "rolename": role}]
        commands += [
            {"command": "addRoleACL", "rolename": role, "acltype": t, "topic": topic, "allow": True}
            for t, topic in acls
        ]
        commands += [
            {"command": "deleteClient", "username": name},  # a retried sign-in gets a new password
            {
                "command": "createClient",
                "username": name,
                "password": password,
                "clientid": name,
                "textname": self._bus.settings.client_id,
                "textdescription": session_key,
                "roles": [{"rolename": role}],
            },
        ]
        answers = await self._run(commands)
        for answer in answers[:-2]:
            error = str(answer.get("error", ""))
            if error and EXISTS not in error:
                raise AccountError(f"{answer.get('command')} {role}: {error}")
        if answers[-1].get("error"):
            raise AccountError(f"createClient {name}: {answers[-1]['error']}")
        for other in await self._usernames(f"{SEAT_PREFIX}{seat_id}-"):
            if other != name:
                await self._delete(other)
        log.info("broker account %s issued for seat %s", name, seat_id)
        return SeatAccount(
            seat_id,
            name,
            password,
            self._bus.host,
            self._bus.port,
            bool(self._bus.settings.tls_ca),
            f"{topics.base}/seat/{seat_id}",
        )

    async def revoke(self, seat_id: str, session_key: str) -> None:
        """Delete the account of that session; the broker disconnects its console."""
        await self._delete(username(seat_id, session_key))

    async def _delete(self, name: str) -> None:
        answers = await self._run([{"command": "deleteClient", "username": name}])
        if not answers[0].get("error"):
            log.info("broker account %s revoked", name)

    async def _usernames(self, prefix: str) -> list[str]:
        answer = (await self._run([{"command": "listClients", "verbose": False, "count": -1}]))[0]
        names = answer.get("data", {}).get("clients", [])
        return [str(n) for n in names if str(n).startswith(prefix)]

    async def sweep(self, alive: Callable[[str], Awaitable[bool]]) -> int:
        """Delete the consoles' accounts this line issued whose session (by key) is no longer
        alive; how many went."""
        answer = (await self._run([{"command": "listClients", "verbose": True, "count": -1}]))[0]
        gone = 0
        for client in answer.get("data", {}).get("clients", []):
            name = str(client.get("username", ""))
            if not name.startswith(SEAT_PREFIX) or client.get("textname") != self._bus.settings.client_id:
                continue
            if not await alive(str(client.get("textdescription", ""))):
                await self._delete(name)
                gone += 1
        return gone
