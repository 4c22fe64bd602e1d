"""The supervisor's live board and today's charts, from the ACD's event log (agents.stats) and
the seats' live state. Today's events are read back from the store at start, so a restarted
process shows the same figures."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from agents.shared import AnyAcd
from agents.stats import queue_figures
from ivr.records import TERMINAL, QueueEvent, QueueEventKind, SeatEvent
from ivr.roster import Roster
from ivr.store import Store
from ivr.understanding import HotSpots

log = logging.getLogger(__name__)
K = QueueEventKind
MERGE_OVERLAP = 30.0  # seconds: how late another node's events may reach the store
CHART_BUCKET = 15 * 60  # calls and service level per quarter hour
WAIT_BUCKET = 5 * 60  # waiting callers: peak per five minutes


def day_start(at: float) -> float:
    """Local midnight before `at`."""
    t = time.localtime(at)
    return time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1))


def _key(event: QueueEvent | SeatEvent) -> tuple[Any, ...]:
    if isinstance(event, QueueEvent):
        return ("q", event.at, event.call_id, event.kind.value, event.seat_id)
    return ("s", event.at, event.seat_id, event.state.value)


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


class LiveBoard:
    def __init__(
        self, acd: AnyAcd, store: Store, alert_wait_seconds: float = 60.0, hotspots: HotSpots | None = None
    ) -> None:
        self._acd = acd
        self._hotspots = hotspots  # clusters at or over the threshold are the board's alerts
        self._store = store
        self.alert_wait_seconds = alert_wait_seconds
        self.queue_events: list[QueueEvent] = []
        self.seat_events: list[SeatEvent] = []
        self._day = 0.0
        self.roster: Callable[[], Roster] | None = None  # teams (班组) for the filter and the seats
        self.supervised: Callable[[], dict[str, tuple[str, str]]] | None = None  # seat -> (mode, leader)
        self._keys: set[tuple[Any, ...]] = set()  # events on the board, so a merge adds each once
        self.nodes: Callable[[], list[dict[str, Any]]] = list  # a centre's nodes (agents/web/centre.py)

    async def load(self) -> None:
        """Today's events so far (before this process, or before the console started)."""
        now = self._acd.clock.now()
        self._day = day_start(now)
        await self._store.flush()
        self.queue_events = [e for e in await self._store.queue_events(self._day) if e.at <= now]
        self.seat_events = [e for e in await self._store.seat_events(self._day) if e.at <= now]
        self._keys = {*map(_key, self.queue_events), *map(_key, self.seat_events)}

    async def catch_up(self, overlap: float = MERGE_OVERLAP) -> int:
        """Merge the events other nodes wrote to the shared store since shortly before the
        newest on the board (they commit in batches, a little late); returns how many."""
        tail = [e.at for e in self.queue_events[-200:]] + [e.at for e in self.seat_events[-200:]]
        latest = max(tail, default=self._day)
        since = max(self._day, latest - overlap)
        fresh: list[QueueEvent | SeatEvent] = [*await self._store.queue_events(since)]
        fresh.extend(await self._store.seat_events(since))
        added = 0
        for event in sorted(fresh, key=lambda e: e.at):
            if _key(event) not in self._keys:
                self.add(event)
                added += 1
        return added

    async def follow(self, every: float = 2.0) -> None:
        """A centre's node: catch up with the other nodes' events for as long as it runs."""
        while True:  # ends by cancellation
            await asyncio.sleep(every)
            try:
                await self.catch_up()
            except Exception:  # the store away: the next round catches up
                log.warning("board: other nodes' events not merged", exc_info=True)

    def add(self, event: QueueEvent | SeatEvent) -> None:
        key = _key(event)
        if key in self._keys:
            return
        self._keys.add(key)
        if event.at >= self._day + 86400:  # a new day: yesterday's calls leave the board
            self._day = day_start(event.at)
            self.queue_events = [e for e in self.queue_events if e.at >= self._day]
            self.seat_events = [e for e in self.seat_events if e.at >= self._day]
            self._keys = {*map(_key, self.queue_events), *map(_key, self.seat_events)}
        (self.queue_events if isinstance(event, QueueEvent) else self.seat_events).append(event)  # type: ignore[arg-type]

    def queue_of(self, call_id: str) -> str:
        for e in reversed(self.queue_events):
            if e.call_id == call_id:
                return e.queue
        return ""

    def snapshot(self, team: str = "") -> dict[str, Any]:
        """The queues, and the seats (of `team`, a team id or name, when given) with their team
        and any leader on their call; `teams` sums the seats' states per team."""
        now = self._acd.clock.now()
        queues: list[dict[str, Any]] = []
        for name, q in self._acd.queues.items():
            f = queue_figures(name, self.queue_events, self.seat_events, now, q.service_level_seconds)
            live = self._acd.status(name)
            longest = max(f.longest_wait, live.longest_wait)
            queues.append(
                {
                    "queue": name,
                    "waiting": live.waiting,
                    "in_queue": f.waiting,  # waiting or ringing a seat
                    "longest_wait": round(longest, 1),
                    "service_level": _round(f.service_level, 3),
                    "service_level_seconds": q.service_level_seconds,
                    "asa": _round(f.asa),
                    "abandon_rate": _round(f.abandon_rate, 3),
                    "aht": _round(f.aht),
                    "entered": f.entered,
                    "answered": f.answered,
                    "abandoned": f.abandoned,
                    "completed": f.completed,
                    "ready": live.ready,
                    "logged_in": live.logged_in,
                    "estimated_wait": round(live.estimated_wait, 1),
                    "alert": longest > self.alert_wait_seconds,
                }
            )
        calls: dict[str, int] = defaultdict(int)
        for e in self.queue_events:
            if e.kind is K.CONNECT and e.seat_id:
                calls[e.seat_id] += 1
        seats = [
            {
                "seat_id": s.id,
                "name": s.settings.name,
                "state": s.state.value,
                "reason": s.reason,
                "since": s.since,
                "in_state": round(max(0.0, now - s.since), 1) if s.since else None,
                "calls_today": calls[s.id],
            }
            for s in self._acd.seats.values()
        ]
        teams = self._teams(seats, team)
        if team:
            seats = [s for s in seats if team in (s["team"], s["team_name"])]
        by_state: dict[str, int] = defaultdict(int)
        for s in seats:
            by_state[str(s["state"])] += 1
        nodes = self.nodes()
        centre = {
            key: sum(int(q[key]) for q in queues)
            for key in ("waiting", "in_queue", "entered", "answered", "abandoned")
        }
        centre["calls_now"] = sum(int(n["calls_now"]) for n in nodes)
        centre["nodes_up"] = sum(1 for n in nodes if n["state"] == "up")
        return {
            "team": team,
            "teams": teams,
            "now": now,
            "centre": centre,
            "nodes": nodes,
            "alert_wait_seconds": self.alert_wait_seconds,
            "queues": queues,
            "seats": seats,
            "seats_by_state": dict(by_state),
            # wall clock, as the flow notes calls (the ACD's clock may be virtual in tests)
            "hot_spots": [s.as_dict() for s in self._hotspots.current(time.time())] if self._hotspots else [],
        }

    def _teams(self, seats: list[dict[str, Any]], team: str) -> list[dict[str, Any]]:
        """Marks each seat with its team and leader on the call; one summary row per team."""
        roster = self.roster() if self.roster is not None else None
        summary: dict[str, dict[str, Any]] = {}
        supervised = self.supervised() if self.supervised is not None else {}
        if roster is not None:
            for t in roster.teams.values():
                summary[t.id] = {"id": t.id, "name": t.name, "leader": t.leader, "seats": 0, "states": {}}
        for s in seats:
            settings = roster.seats.get(str(s["seat_id"])) if roster is not None else None
            team_id = settings.team if settings is not None else ""
            row = summary.get(team_id)
            s["team"], s["team_name"] = team_id, row["name"] if row is not None else ""
            s["shift"] = settings.shift if settings is not None else ""
            mode, leader = supervised.get(str(s["seat_id"]), ("", ""))
            s["supervised"], s["supervisor"] = mode, leader
            if row is not None:
                row["seats"] += 1
                row["states"][s["state"]] = row["states"].get(s["state"], 0) + 1
        return list(summary.values())

    def charts(self) -> dict[str, Any]:
        """Today per quarter hour: calls entered / answered / abandoned and the service level
        of the calls answered in it; waiting callers' peak per five minutes."""
        now = self._acd.clock.now()
        start = self._day or day_start(now)
        buckets = int((now - start) // CHART_BUCKET) + 1
        entered, answered, abandoned, in_time = ([0] * buckets for _ in range(4))
        sl_seconds = {n: q.service_level_seconds for n, q in self._acd.queues.items()}
        for e in self.queue_events:
            i = int((e.at - start) // CHART_BUCKET)
            if not 0 <= i < buckets:
                continue
            if e.kind is K.ENTERQUEUE:
                entered[i] += 1
            elif e.kind is K.CONNECT and not e.data.get("transfer"):  # a transfer: answered once
                answered[i] += 1
                in_time[i] += float(e.data.get("wait", 0.0)) <= sl_seconds.get(e.queue, 20.0)
            elif e.kind is K.ABANDON:
                abandoned[i] += 1
        level = [round(t / a, 3) if a else None for t, a in zip(in_time, answered, strict=True)]
        return {
            "day_start": start,
            "now": now,
            "bucket_seconds": CHART_BUCKET,
            "entered": entered,
            "answered": answered,
            "abandoned": abandoned,
            "service_level": level,
            "waiting": self._waiting_series(start, now),
            "waiting_bucket_seconds": WAIT_BUCKET,
        }

    def _waiting_series(self, start: float, now: float) -> list[int]:
        """Peak number of callers in all queues (waiting or ringing) per five minutes."""
        buckets = int((now - start) // WAIT_BUCKET) + 1
        peak = [0] * buckets
        open_calls: set[str] = set()
        last = 0
        for e in sorted(self.queue_events, key=lambda e: e.at):
            i = min(buckets - 1, max(0, int((e.at - start) // WAIT_BUCKET)))
            for j in range(last + 1, i + 1):  # carry the level across quiet buckets
                peak[j] = max(peak[j], len(open_calls))
            last = max(last, i)
            if e.kind is K.ENTERQUEUE:
                open_calls.add(e.call_id)
            elif e.kind is K.CONNECT or e.kind in TERMINAL or e.kind is K.CALLBACK:
                open_calls.discard(e.call_id)
            peak[i] = max(peak[i], len(open_calls))
        for j in range(last + 1, buckets):
            peak[j] = max(peak[j], len(open_calls))
        return peak
