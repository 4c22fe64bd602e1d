"""The waiting callers of all queues in one service order.

Order: caller priority (higher first), then queue weight (a seat in several queues serves the
heavier queue first), then arrival. A caller whose offer went unanswered gets a negative
order number, which puts them at the front of their priority band.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator, Mapping

from agents.lines import EntryState, QueueEntry
from ivr.config import QueueSettings


class CallQueue:
    def __init__(self, queues: Mapping[str, QueueSettings]) -> None:
        self._weights = {name: q.weight for name, q in queues.items()}
        self._entries: list[QueueEntry] = []
        self._counts: dict[str, int] = dict.fromkeys(queues, 0)
        self._arrivals = itertools.count(1)
        self._fronts = itertools.count(-1, -1)

    def _key(self, e: QueueEntry) -> tuple[int, int, int]:
        return (-e.priority, -self._weights[e.queue], e.order)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[QueueEntry]:
        return iter(list(self._entries))

    def __contains__(self, entry: QueueEntry) -> bool:
        return any(e is entry for e in self._entries)

    def count(self, queue: str) -> int:
        return self._counts.get(queue, 0)

    def add(self, entry: QueueEntry, *, front: bool = False) -> None:
        entry.order = next(self._fronts) if front else next(self._arrivals)
        entry.state = EntryState.WAITING
        bisect.insort(self._entries, entry, key=self._key)
        self._counts[entry.queue] += 1

    def remove(self, entry: QueueEntry) -> bool:
        i = bisect.bisect_left(self._entries, self._key(entry), key=self._key)
        for j in range(i, len(self._entries)):
            if self._entries[j] is entry:
                del self._entries[j]
                self._counts[entry.queue] -= 1
                return True
            if self._key(self._entries[j]) != self._key(entry):
                break
        return False

    def remove_many(self, taken: set[str]) -> None:
        """Drop the entries whose call ids are in `taken` in one pass (after a match round)."""
        kept = []
        for e in self._entries:
            if e.call_id in taken:
                self._counts[e.queue] -= 1
            else:
                kept.append(e)
        self._entries = kept

    def position(self, entry: QueueEntry) -> int:
        """1-based place among the callers of the same queue; 0 when not waiting."""
        pos = 0
        for e in self._entries:
            if e.queue == entry.queue:
                pos += 1
            if e is entry:
                return pos
        return 0

    def in_order(self) -> list[QueueEntry]:
        """The live list (no copy) for the match round; do not mutate while iterating."""
        return self._entries

    def of(self, queue: str) -> list[QueueEntry]:
        return [e for e in self._entries if e.queue == queue]
