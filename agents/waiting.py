"""What a waiting caller hears about their wait: position and an estimate from recent handle
times (talk plus wrap-up), phrased in Chinese."""

from __future__ import annotations

import math
from collections import deque


class HandleTimes:
    """Recent handle times per queue; the estimate falls back to a configured default."""

    def __init__(self, keep: int = 50) -> None:
        self._keep = keep
        self._by_queue: dict[str, deque[float]] = {}

    def add(self, queue: str, seconds: float) -> None:
        self._by_queue.setdefault(queue, deque(maxlen=self._keep)).append(max(0.0, seconds))

    def average(self, queue: str, default: float) -> float:
        recent = self._by_queue.get(queue)
        return sum(recent) / len(recent) if recent else default


def estimated_wait(position: int, serving_seats: int, handle_seconds: float) -> float:
    """Seconds until a caller at `position` (1 = next) is likely answered: each seat frees up
    once per handle time, so `position` callers need ceil(position / seats) rounds, the first
    of them half done on average."""
    if position <= 0:
        return 0.0
    seats = max(1, serving_seats)
    rounds = math.ceil(position / seats)
    return (rounds - 0.5) * handle_seconds


def wait_phrase(seconds: float) -> str:
    if seconds < 60:
        return "不到1分钟"
    minutes = round(seconds / 60)
    return f"约{minutes}分钟"


def announcement(position: int, wait_seconds: float) -> str:
    if position <= 1:
        return f"您是下一位，预计等待时间{wait_phrase(wait_seconds)}，请不要挂机。"
    return f"您前面还有{position - 1}位来电在等待，预计等待时间{wait_phrase(wait_seconds)}，请耐心等候。"
