"""MQTT bus (aiomqtt): every outgoing message goes through the store's outbox first, so nothing
is lost while the broker is down or the process restarts; a sender delivers the outbox in
order, with QoS 1, and marks rows delivered only after the broker's PUBACK (at least once:
consoles drop repeats by the envelope's `id`). Incoming console messages (seat commands,
ticket updates) reach handlers registered with `subscribe`. Topics and who may use them (the
ACL the broker enforces): docs/mqtt.md. The line connects with its own account (never
anonymously) and, when `tls_ca` is set, over TLS.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import aiomqtt

from ivr.config import MqttSettings
from ivr.store import Store

log = logging.getLogger(__name__)

VERSION = 1
LINE_ROLE = "hotline-line"  # the dynsec role of the line's own account
DYNSEC = "$CONTROL/dynamic-security/v1"
DYNSEC_RESPONSE = f"{DYNSEC}/response"
Handler = Callable[[str, dict[str, Any]], Awaitable[None]]


class Topics:
    """The topic scheme, versioned under `<prefix>/v1/`, and who may use which topic.

    Everything a console may touch is under its seat (`seat/<id>/...`), so the broker's ACL
    decides which seat a message comes from and which seat may read it; the line takes the seat
    from the topic and never from a payload.
    """

    def __init__(self, prefix: str = "hotline") -> None:
        self.prefix = prefix
        self.base = f"{prefix}/v{VERSION}"

    def seat_pop(self, seat_id: str) -> str:
        return f"{self.base}/seat/{seat_id}/pop"

    def seat_state(self, seat_id: str) -> str:
        return f"{self.base}/seat/{seat_id}/state"

    def seat_command(self, seat_id: str = "+") -> str:
        return f"{self.base}/seat/{seat_id}/command"

    def seat_ticket(self, seat_id: str, ticket_id: str) -> str:
        """A ticket after a change, to the seat that is its operator."""
        return f"{self.base}/seat/{seat_id}/ticket/{ticket_id}"

    def seat_ticket_update(self, seat_id: str = "+", ticket_id: str = "+") -> str:
        return f"{self.seat_ticket(seat_id, ticket_id)}/update"

    def seat_ticket_error(self, seat_id: str, ticket_id: str) -> str:
        return f"{self.seat_ticket(seat_id, ticket_id)}/error"

    def ticket_event(self, ticket_id: str = "+") -> str:
        """What happened to a ticket after dispatch (accept, return, reply, reopen...)."""
        return f"{self.base}/ticket/{ticket_id}/event"

    def unit_inbox(self, unit_id: str = "+") -> str:
        """A unit's feed: tickets that reach its inbox (dispatch, reopen) and deadline alerts."""
        return f"{self.base}/unit/{unit_id}/ticket"

    def hot_spot(self, place: str, category: str) -> str:
        """Several calls about one problem at one place (retained per place and category)."""
        safe = "".join("_" if ch in "+#/" else ch for ch in f"{place}|{category}")
        return f"{self.base}/hotspot/{safe}"

    def segment(self, topic: str, index: int) -> str:
        """The `index`-th level after the version (seat/<id>/command: 1 is the id)."""
        return topic[len(self.base) + 1 :].split("/")[index]

    def line_acls(self) -> list[tuple[str, str]]:
        """(dynsec ACL type, topic) the line needs: its whole prefix, and issuing consoles'
        accounts through the dynsec control topic."""
        everything = f"{self.prefix}/#"
        return [
            ("publishClientSend", everything),
            ("publishClientReceive", everything),
            ("subscribePattern", everything),
            # nodes of a centre share the consoles' requests (one node takes each): mosquitto
            # checks a shared subscription against its whole $share/<group>/... filter
            ("subscribePattern", f"$share/+/{everything}"),
            ("publishClientSend", DYNSEC),
            ("publishClientReceive", DYNSEC_RESPONSE),
            ("subscribePattern", DYNSEC_RESPONSE),
        ]

    def seat_acls(self, seat_id: str) -> list[tuple[str, str]]:
        """What the console of seat `seat_id` may do: read its seat's topics, send its commands
        and updates of tickets (the line still checks the seat is the ticket's operator)."""
        if not seat_id or any(c in seat_id for c in "/+#$"):
            raise ValueError(f"seat id {seat_id!r} cannot be a topic level")
        mine = f"{self.base}/seat/{seat_id}/#"
        return [
            ("subscribePattern", mine),
            ("publishClientReceive", mine),
            ("publishClientSend", self.seat_command(seat_id)),
            ("publishClientSend", self.seat_ticket_update(seat_id)),
        ]


def envelope(kind: str, body: Mapping[str, Any], at: float | None = None) -> bytes:
    """The versioned JSON every message carries: v, type, id (for de-duplication), at."""
    doc = {"v": VERSION, "type": kind, "id": uuid.uuid4().hex, "at": at or time.time(), **body}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


class BusError(RuntimeError):
    pass


def line_account(settings: MqttSettings, resolve: Callable[[str], Path] = Path) -> tuple[str, str]:
    """The line's (username, password): `password`, or the first line of `password_file`."""
    password = settings.password
    if settings.password_file:
        path = resolve(settings.password_file)
        try:
            password = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise BusError(f"[mqtt] password_file {path}: {exc.strerror}") from exc
    return settings.username, password


def tls_parameters(
    settings: MqttSettings, resolve: Callable[[str], Path] = Path
) -> aiomqtt.TLSParameters | None:
    """TLS to the broker when `tls_ca` is set (server certificate and host name checked)."""
    if not settings.tls_ca:
        return None
    return aiomqtt.TLSParameters(
        ca_certs=str(resolve(settings.tls_ca)),
        certfile=str(resolve(settings.tls_cert)) if settings.tls_cert else None,
        keyfile=str(resolve(settings.tls_key)) if settings.tls_key else None,
    )


class Bus:
    def __init__(
        self,
        settings: MqttSettings,
        store: Store,
        *,
        host: str | None = None,
        port: int | None = None,
        account: tuple[str, str] | None = None,
        resolve: Callable[[str], Path] = Path,
    ) -> None:
        """`account` overrides [mqtt] username/password (the local broker's generated one);
        `resolve` turns config paths (password_file, tls_*) into files."""
        self.settings = settings
        self.host = host or settings.host or "127.0.0.1"
        self.port = port or settings.port
        self.username, self.password = account or line_account(settings, resolve)
        self._tls = tls_parameters(settings, resolve)
        self._live: aiomqtt.Client | None = None  # while connected
        self.topics = Topics(settings.topic_prefix)
        self._store = store
        self._handlers: list[tuple[str, Handler]] = []
        self._wake = asyncio.Event()
        self.connected = asyncio.Event()
        self.idle = asyncio.Event()  # set while the outbox is known to be empty
        self.delivered = 0  # messages acknowledged by the broker since start
        self._task: asyncio.Task[None] | None = None
        store.outbox_listeners.append(self._outbox_changed)

    def _outbox_changed(self) -> None:
        self.idle.clear()
        self._wake.set()

    def subscribe(self, pattern: str, handler: Handler) -> None:
        """Register before `start`; subscriptions are renewed on every reconnect."""
        self._handlers.append((pattern, handler))

    async def publish(self, topic: str, kind: str, body: Mapping[str, Any], *, retain: bool = False) -> None:
        """Durable once this returns: the message is in the outbox and will be delivered."""
        await self._store.outbox_put(topic, envelope(kind, body), qos=1, retain=retain)

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="mqtt-bus")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait_connected(self, timeout: float) -> None:
        await asyncio.wait_for(self.connected.wait(), timeout)

    async def drain(self, timeout: float) -> None:
        """Wait until everything in the outbox is acknowledged by the broker."""
        await asyncio.wait_for(self.idle.wait(), timeout)

    def _client(self) -> aiomqtt.Client:
        s = self.settings
        return aiomqtt.Client(
            self.host,
            self.port,
            identifier=s.client_id,
            clean_session=False,  # the broker keeps console commands sent while we were away
            keepalive=s.keepalive,
            username=self.username or None,
            password=self.password or None,
            tls_params=self._tls,
            timeout=10.0,
        )

    async def send_now(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish at once, outside the outbox: for requests and figures that mean nothing later
        (the broker's account commands, a node's figures). BusError when not connected or the
        broker refuses."""
        client = self._live
        if client is None:
            raise BusError(f"not connected to the broker {self.host}:{self.port}")
        try:
            await client.publish(topic, payload, qos=1, retain=retain, timeout=10.0)
        except aiomqtt.MqttError as exc:
            raise BusError(f"publish to {topic}: {exc}") from exc

    async def _run(self) -> None:
        delay = self.settings.retry_min
        while True:  # one turn per connection; ends only by cancellation (stop)
            try:
                async with self._client() as client:
                    delay = self.settings.retry_min
                    for pattern, _ in self._handlers:
                        await client.subscribe(pattern, qos=1)
                    self._live = client
                    self.connected.set()
                    log.info("MQTT connected to %s:%s as %s", self.host, self.port, self.username or "-")
                    await self._serve(client)
            except aiomqtt.MqttError as exc:
                log.warning("MQTT %s:%s unavailable (%s); retry in %.1f s", self.host, self.port, exc, delay)
            finally:
                self._live = None
                self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.retry_max)

    async def _serve(self, client: aiomqtt.Client) -> None:
        tasks = [
            asyncio.create_task(self._deliver(client), name="mqtt-deliver"),
            asyncio.create_task(self._receive(client), name="mqtt-receive"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for t in done:
                t.result()  # re-raise the MqttError that ended the connection
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _deliver(self, client: aiomqtt.Client) -> None:
        while True:
            self._wake.clear()  # cleared before reading, so a write during the read is not missed
            items = await self._store.outbox_pending(limit=200)
            if not items:
                if not self._wake.is_set():  # nothing was written during the read
                    self.idle.set()
                await self._wake.wait()
                continue
            # publish() hands each message to paho in call order, so gather keeps the order
            await asyncio.gather(
                *(client.publish(i.topic, i.payload, qos=i.qos, retain=i.retain, timeout=10.0) for i in items)
            )
            await self._store.outbox_delivered([i.id for i in items])
            self.delivered += len(items)

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            try:
                data = json.loads(
                    bytes(message.payload) if isinstance(message.payload, bytes | bytearray) else b""
                )
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:
                log.warning("MQTT %s: bad payload (%s)", message.topic.value, exc)
                continue
            for pattern, handler in self._handlers:
                if message.topic.matches(pattern):
                    try:
                        await handler(message.topic.value, data)
                    except Exception:
                        log.exception("MQTT handler for %s failed", message.topic.value)
