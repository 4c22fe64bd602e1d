"""Which ready seat gets a caller: eligibility by skills (widening with wait) and the queue's
strategy among the eligible seats."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from agents.lines import QueueEntry
from agents.seat import Seat
from ivr.config import QueueSettings


def wanted_skills(entry: QueueEntry, queue: QueueSettings) -> dict[str, int]:
    """The caller's skill needs, the queue's defaults overridden by the flow's request."""
    return {**queue.skills, **dict(entry.request.skills)}


def widen_step(entry: QueueEntry, queue: QueueSettings, now: float) -> int:
    waited = now - entry.entered_at
    return sum(1 for t in queue.skill_widen_after if waited >= t)


def required_levels(entry: QueueEntry, queue: QueueSettings, now: float) -> dict[str, int]:
    """Minimum level per skill right now. Each passed `skill_widen_after` threshold lowers every
    level by `skill_widen_levels`; past the last threshold any seat of the queue will do."""
    skills = wanted_skills(entry, queue)
    if not skills:
        return {}
    step = widen_step(entry, queue, now)
    if queue.skill_widen_after and step >= len(queue.skill_widen_after):
        return {}
    drop = step * queue.skill_widen_levels
    return {name: level - drop for name, level in skills.items() if level - drop > 0}


def next_widen_at(entry: QueueEntry, queue: QueueSettings, now: float) -> float | None:
    if not wanted_skills(entry, queue):
        return None
    for t in queue.skill_widen_after:
        if entry.entered_at + t > now:
            return entry.entered_at + t
    return None


def qualifies(seat: Seat, levels: dict[str, int]) -> bool:
    return all(seat.skill(name) >= level for name, level in levels.items())


def _idle_key(seat: Seat) -> tuple[float, int]:
    return (seat.idle_since, seat.order)


class Chooser:
    """Strategy functions plus the round-robin memory they need (one pointer per queue)."""

    def __init__(self) -> None:
        # queue -> roster order of the seat round robin chose last; the shared queue loads and
        # saves it around each match so every node continues the same rotation
        self.rr_last: dict[str, int] = {}
        self._wanted: Mapping[str, int] = {}
        # exactly ivr.config.STRATEGIES, the names config.toml accepts (ivr cannot import agents);
        # tests/agents/test_strategy.py holds the two together
        self._by_name: dict[str, Callable[[Sequence[Seat], QueueEntry], Seat]] = {
            "longest_idle": self._longest_idle,
            "round_robin": self._round_robin,
            "fewest_calls": self._fewest_calls,
            "least_talk_time": self._least_talk,
            "skills": self._best_skills,
        }

    def pick(
        self, strategy: str, seats: Sequence[Seat], entry: QueueEntry, wanted: Mapping[str, int]
    ) -> Seat:
        """`seats` is non-empty and already eligible. Seats that missed this caller go last."""
        self._wanted = wanted or {entry.queue: 1}
        fresh = [s for s in seats if s.id not in entry.declined]
        chosen = self._by_name[strategy](fresh or seats, entry)
        if strategy == "round_robin":
            self.rr_last[entry.queue] = chosen.order
        return chosen

    def _longest_idle(self, seats: Sequence[Seat], entry: QueueEntry) -> Seat:
        return min(seats, key=_idle_key)

    def _round_robin(self, seats: Sequence[Seat], entry: QueueEntry) -> Seat:
        last = self.rr_last.get(entry.queue, -1)
        after = [s for s in seats if s.order > last]
        return min(after or seats, key=lambda s: s.order)

    def _fewest_calls(self, seats: Sequence[Seat], entry: QueueEntry) -> Seat:
        return min(seats, key=lambda s: (s.calls, *_idle_key(s)))

    def _least_talk(self, seats: Sequence[Seat], entry: QueueEntry) -> Seat:
        return min(seats, key=lambda s: (s.talk_seconds, *_idle_key(s)))

    def _best_skills(self, seats: Sequence[Seat], entry: QueueEntry) -> Seat:
        return min(seats, key=lambda s: (-sum(s.skill(k) for k in self._wanted), *_idle_key(s)))
