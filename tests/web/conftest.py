from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from web_rig import Rig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = Rig(tmp_path)
    await r.start()
    try:
        yield r
    finally:
        await r.stop()
