"""Supervisor figures computed from the event log only (the usual contact-centre definitions):

- service level: share of answered calls answered within T seconds of entering the queue
- ASA: total queue wait of answered calls / answered calls
- abandon rate: callers who hung up in queue / callers who entered
- AHT: (talk + wrap-up) / completed calls
- longest wait: age of the oldest caller still in the queue (waiting or ringing)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ivr.records import TERMINAL, QueueEvent, QueueEventKind, SeatEvent, SeatState

K = QueueEventKind


@dataclass(frozen=True)
class QueueFigures:
    queue: str
    entered: int = 0
    answered: int = 0
    answered_in_time: int = 0
    abandoned: int = 0
    timed_out: int = 0
    left_empty: int = 0
    turned_away: int = 0  # FULL or JOINEMPTY: never entered
    callbacks: int = 0
    completed: int = 0
    waiting: int = 0
    longest_wait: float = 0.0
    service_level: float | None = None
    asa: float | None = None
    abandon_rate: float | None = None
    aht: float | None = None


@dataclass(frozen=True)
class Board:
    queues: dict[str, QueueFigures]
    seats_by_state: dict[str, int] = field(default_factory=dict)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def queue_figures(
    queue: str,
    events: Iterable[QueueEvent],
    seat_events: Iterable[SeatEvent],
    now: float,
    service_level_seconds: float,
) -> QueueFigures:
    counts: Counter[K] = Counter()
    entered_at: dict[str, float] = {}
    open_calls: dict[str, float] = {}  # entered, not yet connected or gone
    in_time = 0
    total_wait = 0.0
    talk = 0.0
    completed_calls: set[str] = set()
    for e in events:
        if e.queue != queue or (e.kind is K.CONNECT and e.data.get("transfer")):
            continue  # a transferred caller's second CONNECT: answered once, waited once
        counts[e.kind] += 1
        if e.kind is K.ENTERQUEUE:
            entered_at[e.call_id] = e.at
            open_calls[e.call_id] = e.at
        elif e.kind is K.CONNECT:
            wait = float(e.data.get("wait", e.at - entered_at.get(e.call_id, e.at)))
            total_wait += wait
            in_time += wait <= service_level_seconds
            open_calls.pop(e.call_id, None)
        elif e.kind in TERMINAL:
            open_calls.pop(e.call_id, None)
            if e.kind in (K.COMPLETEAGENT, K.COMPLETECALLER):
                talk += float(e.data.get("talk", 0.0))
                completed_calls.add(e.call_id)
    wrapup = sum(
        s.duration for s in seat_events if s.previous is SeatState.WRAP_UP and s.call_id in completed_calls
    )
    answered = counts[K.CONNECT]
    completed = len(completed_calls)
    return QueueFigures(
        queue=queue,
        entered=counts[K.ENTERQUEUE],
        answered=answered,
        answered_in_time=in_time,
        abandoned=counts[K.ABANDON],
        timed_out=counts[K.EXITWITHTIMEOUT],
        left_empty=counts[K.EXITEMPTY],
        turned_away=counts[K.FULL] + counts[K.JOINEMPTY],
        callbacks=counts[K.CALLBACK],
        completed=completed,
        waiting=len(open_calls),
        longest_wait=max((now - t for t in open_calls.values()), default=0.0),
        service_level=_ratio(in_time, answered),
        asa=_ratio(total_wait, answered),
        abandon_rate=_ratio(counts[K.ABANDON], counts[K.ENTERQUEUE]),
        aht=_ratio(talk + wrapup, completed),
    )


def seats_by_state(seat_events: Iterable[SeatEvent], seat_ids: Iterable[str] = ()) -> dict[str, int]:
    """The last event of each seat decides its state; seats never seen count as logged out."""
    last: dict[str, SeatState] = dict.fromkeys(seat_ids, SeatState.LOGGED_OUT)
    for e in seat_events:
        last[e.seat_id] = e.state
    counts = dict.fromkeys((s.value for s in SeatState), 0)
    for state in last.values():
        counts[state.value] += 1
    return counts


def board(
    events: Iterable[QueueEvent],
    seat_events: Iterable[SeatEvent],
    service_levels: Mapping[str, float],
    now: float,
    seat_ids: Iterable[str] = (),
) -> Board:
    """`service_levels`: queue name -> T seconds (QueueSettings.service_level_seconds)."""
    qe, se = list(events), list(seat_events)
    return Board(
        queues={q: queue_figures(q, qe, se, now, t) for q, t in service_levels.items()},
        seats_by_state=seats_by_state(se, seat_ids),
    )
