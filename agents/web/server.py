"""Placeholder until the console lands: serves nothing, reports its address."""

from __future__ import annotations

from agents.acd import Acd
from agents.console import Console
from agents.events import EventLog
from ivr.bus import Bus
from ivr.config import Settings
from ivr.store import Store


class ConsoleServer:
    def __init__(
        self, settings: Settings, acd: Acd, store: Store, bus: Bus, events: EventLog, console: Console
    ):
        self.settings = settings
        self.url = f"http://{settings.web.bind}:{settings.web.port}/"

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None
