"""Wait for whichever of several awaitables finishes first: the one helper for it.

`first` starts each awaitable as a task, returns the one that finished first (in argument order
when several finish together), and cancels and awaits the rest, so nothing is left running and
no exception goes unretrieved. `discard` disposes of an awaitable that will not be awaited (a
coroutine is closed, a future cancelled), so no "coroutine was never awaited" warning follows.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable
from typing import Any


def discard(aw: Awaitable[Any]) -> None:
    """Drop an awaitable without running it."""
    if inspect.iscoroutine(aw):
        aw.close()
    elif isinstance(aw, asyncio.Future):
        aw.cancel()


async def first(*aws: Awaitable[Any], timeout: float | None = None) -> asyncio.Future[Any] | None:
    """The first of aws to finish (its result or exception is read from it), or None on timeout.

    A future passed in comes back as itself, so `await first(task, ...) is task` tells who won.
    """
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    try:
        done, _ = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        losers = [t for t in tasks if not t.done()]
        for t in losers:
            t.cancel()
        if losers:
            await asyncio.gather(*losers, return_exceptions=True)
    winner = next((t for t in tasks if t in done), None)
    for t in done:
        if t is not winner and not t.cancelled():
            t.exception()  # a second finisher's error is read, not left to the garbage collector
    return winner
