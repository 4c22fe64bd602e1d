"""A team leader's reach into a live conversation (班长监听): listen in silently, whisper to the
operator, barge in, or take the call over.

The line dials the leader's own seat phone and routes audio on the conference bridge one way
at a time (`engine.transmit`): listening, the leader hears the caller and the operator; whispering,
the operator also hears the leader; barging, the caller hears the leader too. Taking over bridges
the caller with the leader both ways and hangs up the operator: the seat line's conversation goes
on with the leader's phone as its operator, so its end (and the survey after it) is as usual.

Runs on the event loop through the engine's async facade. A party that hangs up while a route
changes (`CallGone`) ends the leader's presence; nothing else raises.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

from ivr.race import first
from ivr.records import Offer
from ivr.sip.call import Call, Engine
from ivr.sip.events import CallGone
from ivr.sip.seatline import Connection, SipSeatLine

log = logging.getLogger(__name__)

Mode = Literal["listen", "whisper", "barge"]
MODES: tuple[Mode, ...] = ("listen", "whisper", "barge")
Party = Literal["caller", "operator", "leader"]
_LISTEN: frozenset[tuple[Party, Party]] = frozenset({("caller", "leader"), ("operator", "leader")})
ROUTES: dict[str, frozenset[tuple[Party, Party]]] = {  # (who speaks, who hears)
    "listen": _LISTEN,
    "whisper": _LISTEN | {("leader", "operator")},
    "barge": _LISTEN | {("leader", "operator"), ("leader", "caller")},
}
ANSWER_SECONDS = 30.0  # the leader's phone rings this long

# (action, the conversation's offer, the leader's seat, who asked, a QA recording finished by the
# action: the operator's part, at a take-over) -> the event log and the ticket
Acted = Callable[[str, Offer, str, str, str], None]


class SupervisionError(Exception):
    """A request that cannot be carried out; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Presence:
    conversation: Connection
    leader_seat: str
    leader: Call
    mode: Mode
    routes: set[tuple[Party, Party]] = field(default_factory=set)


class LeaderLine:
    def __init__(self, engine: Engine, seats: SipSeatLine, on_action: Acted) -> None:
        self.engine = engine
        self._seats = seats
        self._on_action = on_action
        self.present: dict[str, Presence] = {}  # by the conversation's call id
        self._tasks: set[asyncio.Task[None]] = set()

    def conversation(self, seat_id: str) -> Connection:
        conv = self._seats.conversation_of(seat_id)
        if conv is None:
            raise SupervisionError(404, f"座席 {seat_id} 当前没有通话")
        return conv

    def supervised(self) -> dict[str, tuple[str, str]]:
        """Operator seat -> (mode, leader seat) of every call a leader is on."""
        return {p.conversation.offer.seat_id: (p.mode, p.leader_seat) for p in self.present.values()}

    def presence_of(self, seat_id: str) -> Presence | None:
        conv = self._seats.conversation_of(seat_id)
        return self.present.get(conv.offer.call_id) if conv is not None else None

    async def join(self, seat_id: str, mode: Mode, leader_seat: str, leader_uri: str, by: str) -> Presence:
        """Ring the leader's phone and, once answered, route audio for `mode`. A leader already
        on this conversation changes mode instead."""
        if mode not in ROUTES:
            raise SupervisionError(400, f"未知的监听方式 {mode}")
        conv = self.conversation(seat_id)
        key = conv.offer.call_id
        here = self.present.get(key)
        if here is not None:
            if here.leader_seat != leader_seat:
                raise SupervisionError(409, f"班长 {here.leader_seat} 已在此通话中")
            await self._route(here, mode)
            self._on_action(mode, conv.offer, leader_seat, by, "")
            return here
        if seat_id == leader_seat:
            raise SupervisionError(409, "不能监听自己的通话")
        headers = {"X-Hotline-Monitor": mode, "X-Hotline-Seat": seat_id}
        if conv.offer.ticket_id:
            headers["X-Hotline-Ticket"] = conv.offer.ticket_id
        try:
            leader = await self.engine.dial(leader_uri, headers)
        except Exception as exc:
            raise SupervisionError(502, f"无法呼叫班长话机 {leader_uri}: {exc}") from exc
        presence = Presence(conv, leader_seat, leader, mode)
        self.present[key] = presence
        try:
            if not await leader.wait_answer(ANSWER_SECONDS):
                raise SupervisionError(504, "班长话机未接听")
            await asyncio.wait_for(leader.media_ready.wait(), 5)
            if conv.done.is_set():
                raise SupervisionError(410, "通话已结束")
            await self._route(presence, mode)
        except BaseException:
            self.present.pop(key, None)
            await self.engine.hangup(leader.id)
            raise
        self._spawn(self._watch(presence))
        self._on_action(mode, conv.offer, leader_seat, by, "")
        log.info("leader %s %s seat %s (call %s)", leader_seat, mode, seat_id, key)
        return presence

    async def take_over(self, seat_id: str, leader_seat: str, leader_uri: str, by: str) -> None:
        """The leader's phone takes the caller; the operator's phone is hung up."""
        presence = self.presence_of(seat_id)
        if presence is None:
            presence = await self.join(seat_id, "listen", leader_seat, leader_uri, by)
        elif presence.leader_seat != leader_seat:
            raise SupervisionError(409, f"班长 {presence.leader_seat} 已在此通话中")
        conv = presence.conversation
        key = conv.offer.call_id
        try:
            await self._set_routes(presence, set())
            await self.engine.unbridge(conv.caller_id, conv.operator.id)
            await self.engine.bridge(conv.caller_id, presence.leader.id)
        except CallGone as gone:
            raise SupervisionError(410, "通话已结束") from gone
        self.present.pop(key, None)  # the leader is the conversation's operator from here on
        old, recording = await self._seats.hand_over(key, presence.leader)
        await self.engine.hangup(old.id)
        self._on_action("takeover", conv.offer, leader_seat, by, recording)
        log.info("leader %s took over call %s from seat %s", leader_seat, key, seat_id)

    async def leave(self, seat_id: str, by: str) -> None:
        presence = self.presence_of(seat_id)
        if presence is None:
            raise SupervisionError(404, f"座席 {seat_id} 的通话没有班长在听")
        self.present.pop(presence.conversation.offer.call_id, None)
        await self.engine.hangup(presence.leader.id)  # its ports leave the bridge with it
        self._on_action("leave", presence.conversation.offer, presence.leader_seat, by, "")

    async def _route(self, presence: Presence, mode: Mode) -> None:
        try:
            await self._set_routes(presence, set(ROUTES[mode]))
        except CallGone as gone:
            raise SupervisionError(410, "通话已结束") from gone
        presence.mode = mode

    async def _set_routes(self, presence: Presence, wanted: set[tuple[Party, Party]]) -> None:
        conv = presence.conversation
        ids: dict[Party, str] = {
            "caller": conv.caller_id,
            "operator": conv.operator.id,
            "leader": presence.leader.id,
        }
        for src, dst in presence.routes - wanted:
            await self.engine.stop_transmit(ids[src], ids[dst])
            presence.routes.discard((src, dst))
        for src, dst in wanted - presence.routes:
            await self.engine.transmit(ids[src], ids[dst])
            presence.routes.add((src, dst))

    async def _watch(self, presence: Presence) -> None:
        """The leader hangs up, or the conversation ends (the leader's phone is hung up then)."""
        conv = presence.conversation
        await first(presence.leader.ended.wait(), conv.done.wait())
        key = conv.offer.call_id
        if self.present.get(key) is presence:
            del self.present[key]
            if not presence.leader.ended.is_set():
                await self.engine.hangup(presence.leader.id)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
