from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from shared_nodes import Centre, MakeCentre

from ivr.config import QueueSettings, SeatSettings


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
