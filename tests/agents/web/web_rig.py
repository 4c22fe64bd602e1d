"""A console over a real ACD and a real store (SQLite, or PostgreSQL given its URL), with a fake
seat line that answers."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from agents.acd import Acd
from agents.console import Console
from agents.controls import CallSide, SeatControls
from agents.eventlog import EventLog
from agents.lines import SilentLine
from agents.tickets import ScreenPopper
from agents.web.server import ConsoleServer
from ivr.bus import Bus
from ivr.config import Settings, parse
from ivr.records import CallContext, Offer, QueueRequest, QueueResult, RingOutcome
from ivr.store import open_store

PASSWORDS = {"1001": "pw1001", "1002": "pw1002", "1003": ""}
SUPERVISOR = "boss"
ADMIN = "admin-pass-1"


def settings(
    tmp: Path, store_url: str = "", extra: dict[str, Any] | None = None, **sections: dict[str, Any]
) -> Settings:
    raw: dict[str, Any] = {
        **sections,
        "web": {"bind": "127.0.0.1", "port": 0, "supervisor_password": SUPERVISOR, "admin_password": ADMIN},
        "store": {"path": str(tmp / "web.db"), "url": store_url},
        "queues": {"general": {"wrapup_seconds": 30, "service_level_seconds": 20, "announce_every": 0}},
        "seats": [
            {
                "id": sid,
                "name": f"话务员{sid}",
                "uri": f"sip:{sid}@127.0.0.1",
                "queues": ["general"],
                "password": pw,
            }
            for sid, pw in PASSWORDS.items()
        ],
    }
    for section, values in (extra or {}).items():  # a test's own keys, section by section
        raw[section] = {**raw.get(section, {}), **values} if isinstance(values, dict) else values
    return parse(raw, tmp / "config.toml")


class FakeSeatLine:
    """Answers after `answer_after` seconds; `hold` keeps a seat ringing until released."""

    def __init__(self, answer_after: float = 0.05) -> None:
        self.answer_after = answer_after
        self.hold: dict[str, asyncio.Event] = {}

    async def ring(self, offer: Offer, timeout: float) -> RingOutcome:
        gate = self.hold.get(offer.seat_id)
        if gate is not None:
            await gate.wait()
        await asyncio.sleep(self.answer_after)
        return "answered"


class Rig:
    def __init__(
        self,
        tmp: Path,
        store_url: str = "",
        extra: dict[str, Any] | None = None,
        *,
        call_side: CallSide | None = None,
        **sections: dict[str, Any],
    ) -> None:
        self.settings = settings(tmp, store_url, extra, **sections)
        self.line = FakeSeatLine()
        self.calls: dict[str, asyncio.Task[QueueResult]] = {}
        self.call_side = call_side  # the call controls' SIP side (none: the controls answer 503)

    async def start(self) -> None:
        s = self.settings
        self.store = await open_store(s.store.url or s.resolve(s.store.path))
        self.bus = Bus(s.mqtt, self.store)  # never started: messages stay in the outbox
        self.events = EventLog(self.store)
        self.acd = Acd(
            s.queues,
            s.seats,
            self.line,
            events=self.events,
            screen_pop=ScreenPopper(self.store, self.bus.topics),
        )
        self.console = Console(self.acd, self.store, self.bus)
        self.console.attach()
        await self.acd.start()
        self.controls = None
        if self.call_side is not None:
            self.controls = SeatControls(self.acd, self.store, self.call_side, leader=lambda _seat: "1003")
        self.server = ConsoleServer(
            s, self.acd, self.store, self.bus, self.events, self.console, controls=self.controls
        )
        await self.server.start()
        self.http = httpx.AsyncClient(base_url=self.server.url.rstrip("/"), timeout=10, verify=self.verify)

    verify: Any = True  # httpx's verify: a test serving HTTPS gives its CA file

    async def stop(self) -> None:
        await self.http.aclose()
        await self.server.stop()
        for t in self.calls.values():
            t.cancel()
        await asyncio.gather(*self.calls.values(), return_exceptions=True)
        await self.acd.stop()
        await self.store.close()

    async def login(self, seat_id: str, password: str | None = None) -> dict[str, str]:
        r = await self.http.post(
            "/api/login", json={"seat_id": seat_id, "password": password or PASSWORDS[seat_id]}
        )
        assert r.status_code == 200, r.text
        return {"authorization": f"Bearer {r.json()['token']}"}

    async def supervisor(self) -> dict[str, str]:
        r = await self.http.post("/api/login", json={"role": "supervisor", "password": SUPERVISOR})
        assert r.status_code == 200, r.text
        return {"authorization": f"Bearer {r.json()['token']}"}

    def call(self, call_id: str, caller: str = "13800138000", **context: Any) -> None:
        ctx = CallContext(
            call_id,
            caller,
            flow="main",
            path=("greeting", "main_menu", "operator"),
            choices={"main_menu": "2"},
        )
        req = QueueRequest("general", replace(ctx, **context))
        self.calls[call_id] = asyncio.ensure_future(self.acd.enqueue(SilentLine(), req))

    async def until(self, predicate: Any, timeout: float = 5.0) -> None:
        for _ in range(int(timeout / 0.02)):
            if predicate():
                return
            await asyncio.sleep(0.02)
        raise AssertionError("condition not met in time")


async def add_unit(rig: Rig, unit_id: str, name: str, login: str, password: str) -> None:
    """A unit with one staff sign-in (a cheap hash: tests need not pay for PBKDF2's rounds)."""
    from ivr.passwords import hash_password
    from ivr.records import Unit, UnitStaff

    await rig.store.units.put_unit(Unit(unit_id, name, "委办局", "朝阳区"))
    await rig.store.units.put_staff(
        UnitStaff(login, unit_id, f"{name}值班员", hash_password(password, iterations=1000))
    )


async def unit_login(rig: Rig, login: str, password: str) -> dict[str, str]:
    r = await rig.http.post("/api/login", json={"role": "unit", "login": login, "password": password})
    assert r.status_code == 200, r.text
    return {"authorization": f"Bearer {r.json()['token']}"}
