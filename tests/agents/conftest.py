from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from acd_fakes import Harness, MakeHarness

from ivr.config import QueueSettings, SeatSettings


@pytest.fixture
async def make() -> AsyncIterator[MakeHarness]:
    made: list[Harness] = []

    def factory(seats: list[SeatSettings], queues: list[QueueSettings] | None = None, **q: Any) -> Harness:
        h = Harness(seats, queues, **q)
        made.append(h)
        return h

    yield factory
    for h in made:
        await h.close()
