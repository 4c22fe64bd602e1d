"""The outgoing webhook (agents/tickets/webhook.py) against a real HTTP receiver on 127.0.0.1
that is down at first, then refuses, then takes: every event arrives, in order, signed, and a
new sender over the same store resumes after the last event taken."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agents.tickets.lifecycle import TicketLife
from agents.tickets.webhook import Webhook
from ivr.bus import Topics
from ivr.records import Unit
from ivr.store import open_store

SECRET = "s3cret-hook"
UNIT = Unit("cy-cgw", "朝阳区城管委")


class Receiver:
    def __init__(self) -> None:
        self.refuse = 0  # answer 503 to this many requests first
        self.got: list[dict[str, Any]] = []
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the name http.server calls
                body = self.rfile.read(int(self.headers["content-length"]))
                mine = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(mine, self.headers.get("x-hotline-signature", "")):
                    receiver.bad_signatures += 1
                if receiver.refuse > 0:
                    receiver.refuse -= 1
                    self.send_response(503)
                else:
                    receiver.got.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hotline"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    thread = threading.Thread(target=r.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()
        thread.join(5)


async def test_events_arrive_in_order_signed_and_survive_downtime(tmp_path: Path, receiver: Receiver) -> None:
    store = await open_store(tmp_path / "hook.db")
    try:
        await store.units.put_unit(UNIT)
        life = TicketLife(store, Topics())
        t = await store.tickets.create("13800000001", status="open")
        await life.dispatch(t.id, UNIT.name, actor="seat:1001")
        await life.accept(UNIT, t.id, actor="unit:cy-cgw")
        down = Webhook(store, "http://127.0.0.1:9/hotline", SECRET, timeout=1)  # nothing listens there
        assert await down.send_pending() == 0
        hook = Webhook(store, receiver.url, SECRET, timeout=5)
        receiver.refuse = 1
        assert await hook.send_pending() == 0 and receiver.got == []  # refused: the cursor stays
        assert await hook.send_pending() == 2
        await life.reply(UNIT, t.id, "已修复", "solved", actor="unit:cy-cgw")
        again = Webhook(store, receiver.url, SECRET, timeout=5)  # a restarted node
        assert await again.send_pending() == 1 and await again.send_pending() == 0
        assert [g["event"] for g in receiver.got] == ["dispatch", "accept", "reply"]
        ids = [g["delivery"] for g in receiver.got]
        assert ids == sorted(ids) and receiver.bad_signatures == 0
        assert receiver.got[-1]["ticket"]["status"] == "replied" and receiver.got[-1]["note"] == "已修复"
    finally:
        await store.close()
