from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from nodes import Centre

from ivr.config import QueueSettings, SeatSettings

MakeCentre = Callable[..., Awaitable[Centre]]


@pytest.fixture
async def centre(pg_url: str) -> AsyncIterator[MakeCentre]:
    made: list[Centre] = []

    async def factory(
        seats: list[SeatSettings], queues: list[QueueSettings] | None = None, **q: Any
    ) -> Centre:
        c = Centre(pg_url, seats, queues, **q)
        made.append(c)
        return c

    yield factory
    for c in made:
        await c.close()
