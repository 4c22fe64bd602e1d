"""The operator's call controls, the queue's side: hold and resume, transfer (blind or consulted)
to a seat, to the team leader on duty or to a skill group, a three-way call with an outside
number, and an outbound call from the console (agents.outbound).

The SIP side does the audio (ivr.sip.callcontrol, behind `CallSide`); this module checks that
the control fits the seat and the call, keeps the seats' states right (the first seat goes to
wrap-up, a consulted seat is busy while it talks), re-points the ticket and its screen pop to the
seat that takes the call, and records every action with who and when: a queue event for the call
and a ticket history entry for transfers, three-way calls and outbound calls.

The single-node ACD supports all of it. With the shared queue (a centre's cluster) the controls
that only touch the audio (hold, resume, three-way while the operator stays) work on the node
that holds the call; the ones that move a caller between seats answer 501 (README).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from agents.acd import Acd
from agents.lines import ScreenPop
from agents.outbound import Dialer, OutboundCalls
from agents.seat import Seat
from agents.shared import AnyAcd
from ivr.control import ControlError
from ivr.privacy import mask
from ivr.records import Offer, QueueEvent, SeatState
from ivr.records import QueueEventKind as K
from ivr.store import Store, StoreError

log = logging.getLogger(__name__)

ACTIONS = ("hold", "resume", "transfer", "complete", "back", "conference", "leave", "drop_outside", "dial")
NUMBER = re.compile(r"^\+?[0-9]{3,20}$")  # 110, a unit's duty line, a citizen's mobile


class CallSide(Protocol):
    """What the SIP side does for each control (ivr.sip.callcontrol.CallControls)."""

    def state(self, call_id: str) -> dict[str, object]: ...

    async def hold(self, call_id: str) -> None: ...

    async def resume(self, call_id: str) -> None: ...

    async def consult(self, call_id: str, uri: str, headers: Mapping[str, str]) -> asyncio.Event | None:
        """The caller holds; the operator talks to uri. The consulted phone's `ended` once it
        answered, None (the caller back with the operator) when it did not."""
        ...

    async def back(self, call_id: str) -> None: ...

    async def complete(self, call_id: str, seat_id: str, seat_uri: str) -> None: ...

    async def release(self, call_id: str) -> object: ...

    async def conference(self, call_id: str, number: str, headers: Mapping[str, str]) -> bool: ...

    async def hangup_outside(self, call_id: str) -> None: ...

    async def leave(self, call_id: str) -> None: ...


@dataclass
class Consultation:
    seat_id: str  # who consults
    target: str  # the consulted seat
    how: str  # "seat:1002", "leader", "skill:housing": what the operator asked for
    ending: str = ""  # "back" once the operator went back (the hang-up that follows is ours)


class SeatControls:
    def __init__(
        self,
        acd: AnyAcd,
        store: Store,
        sip: CallSide,
        *,
        leader: Callable[[str], str],  # seat id -> the leader it hands calls up to
        screen_pop: ScreenPop | None = None,
        dialer: Dialer | None = None,
    ) -> None:
        self._acd = acd
        self._store = store
        self._sip = sip
        self._leader = leader
        self._pop = screen_pop
        self.outbound = OutboundCalls(acd, store, self._changed, self._note, dialer)
        self._consults: dict[str, Consultation] = {}  # by call id
        self._tasks: set[asyncio.Task[None]] = set()
        self.listeners: list[Callable[[str], None]] = []  # told the seat whose call view changed

    # --- views --------------------------------------------------------------------------------
    def view(self, seat_id: str) -> dict[str, Any]:
        """The call as the operator's console shows it (with the seat's state from the desk)."""
        seat = self._acd.seats.get(seat_id)
        call_id = seat.call_id if seat is not None and seat.state is SeatState.TALKING else ""
        body: dict[str, Any] = {"call_id": call_id, "outbound": self.outbound.calls.get(seat_id)}
        consult = self._consults.get(call_id)
        if call_id and self._owner(call_id) == seat_id:
            body |= self._sip.state(call_id)
        body["consult_to"] = consult.target if consult is not None and consult.seat_id == seat_id else ""
        body["consulted_by"] = next((c.seat_id for c in self._consults.values() if c.target == seat_id), "")
        return body

    def targets(self, seat_id: str) -> dict[str, Any]:
        """Whom this seat may transfer to: seats (with their state), the leader, skill groups."""
        seats = [
            {"id": s.id, "name": s.settings.name, "state": s.state.value}
            for s in self._acd.seats.values()
            if s.id != seat_id
        ]
        skills = sorted({k for s in self._acd.seats.values() for k in s.settings.skills})
        return {"seats": seats, "leader": self._leader(seat_id), "skills": skills}

    def _owner(self, call_id: str) -> str:
        entry = self._acd.connected(call_id) if isinstance(self._acd, Acd) else None
        if entry is not None:
            return entry.seat_id or ""
        seat = next((s for s in self._acd.seats.values() if s.call_id == call_id), None)
        return seat.id if seat is not None and seat.state is SeatState.TALKING else ""

    # --- the one entry point ------------------------------------------------------------------
    async def act(self, seat_id: str, action: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Run one control for `seat_id`; ControlError when it does not fit (nothing changed)."""
        if action not in ACTIONS:
            raise ControlError(400, f"未知操作 {action!r}；可用：{', '.join(ACTIONS)}")
        seat = self._acd.seats.get(seat_id)
        if seat is None:
            raise ControlError(404, f"没有座席 {seat_id}")
        if action == "dial":
            self._single("外呼")
            result = await self.outbound.start(seat, _number(data), str(data.get("ticket_id", "")))
        else:
            call_id = self._call_of(seat)
            handler = getattr(self, f"_{action}")
            result = await handler(seat, call_id, data)
        self._changed(seat_id)
        return {**self.view(seat_id), **(result or {})}

    def _call_of(self, seat: Seat) -> str:
        if seat.state is not SeatState.TALKING or not seat.call_id or self._owner(seat.call_id) != seat.id:
            raise ControlError(409, "当前没有通话")
        return seat.call_id

    def _single(self, what: str) -> Acd:
        if not isinstance(self._acd, Acd):
            raise ControlError(501, f"集群（共享队列）模式下暂不支持{what}")
        return self._acd

    # --- hold ---------------------------------------------------------------------------------
    async def _hold(self, seat: Seat, call_id: str, data: Mapping[str, Any]) -> None:
        if call_id in self._consults:
            raise ControlError(409, "正在咨询，来电方已在保持中")
        await self._sip.hold(call_id)
        self._event(call_id, K.HOLD, seat.id)

    async def _resume(self, seat: Seat, call_id: str, data: Mapping[str, Any]) -> None:
        await self._sip.resume(call_id)
        self._event(call_id, K.UNHOLD, seat.id)

    # --- transfer -----------------------------------------------------------------------------
    def _resolve(self, seat: Seat, to: str, consult: bool) -> frozenset[str]:
        """The seats a transfer target names: one free seat to consult, or the seats a blind
        transfer may wait for."""
        acd = self._acd
        if to == "leader":
            leader = self._leader(seat.id)
            if not leader:
                raise ControlError(409, "未设置值班班长")
            to = f"seat:{leader}"
        if to.startswith("seat:"):
            target = acd.seats.get(to[5:])
            if target is None:
                raise ControlError(404, f"没有座席 {to[5:]}")
            if target.id == seat.id:
                raise ControlError(400, "不能转接给自己")
            if target.state is not SeatState.READY:
                raise ControlError(409, f"座席 {target.id} 当前不空闲（{target.state.value}）")
            return frozenset({target.id})
        if to.startswith("skill:") and to[6:]:
            skill = to[6:]
            group = [s for s in acd.seats.values() if s.skill(skill) > 0 and s.id != seat.id]
            if not group:
                raise ControlError(404, f"没有具备技能 {skill} 的座席")
            if consult:
                free = [s for s in group if s.state is SeatState.READY]
                if not free:
                    raise ControlError(409, f"技能组 {skill} 暂无空闲座席，可选择盲转排队")
                best = max(free, key=lambda s: (s.skill(skill), -s.idle_since))
                return frozenset({best.id})
            if not any(s.logged_in for s in group):
                raise ControlError(409, f"技能组 {skill} 无人签入")
            return frozenset(s.id for s in group)
        raise ControlError(400, 'to 应为 "seat:座席号"、"leader" 或 "skill:技能名"')

    async def _transfer(self, seat: Seat, call_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
        acd = self._single("转接")
        to, mode = str(data.get("to", "")), str(data.get("mode", "blind"))
        if mode not in ("blind", "consult"):
            raise ControlError(400, 'mode 应为 "blind" 或 "consult"')
        if call_id in self._consults:
            raise ControlError(409, "正在咨询，请先完成转接或返回")
        only = self._resolve(seat, to, mode == "consult")
        entry = acd.connected(call_id)
        assert entry is not None
        if mode == "blind":
            await self._sip.release(call_id)
            targets = ",".join(sorted(only))
            self._event(call_id, K.TRANSFER, seat.id, to=to, how="blind", seats=targets)
            await self._note(entry.ticket_id, seat.id, "transfer", f"盲转至{_named(to)}（座席 {targets}）")
            acd.requeue(call_id, only)
            return {"outcome": "queued"}
        [target_id] = only
        target = acd.seats[target_id]
        acd.take_seat(target_id, call_id)  # busy while consulted: no caller is offered to it
        self._consults[call_id] = Consultation(seat.id, target_id, to)
        self._event(call_id, K.CONSULT, seat.id, to=to, seat=target_id)
        self._changed(target_id)
        headers = {"X-Hotline-Caller": entry.caller, "X-Hotline-Consult": seat.id}
        if entry.ticket_id:
            headers["X-Hotline-Ticket"] = entry.ticket_id
        try:
            ended = await self._sip.consult(call_id, target.settings.uri, headers)
        except BaseException:
            self._end_consult(call_id, "failed")
            raise
        if ended is None:
            self._end_consult(call_id, "no_answer")
            return {"outcome": "no_answer"}
        self._spawn(self._watch_consult(call_id, target_id, ended))
        return {"outcome": "consulting"}

    async def _watch_consult(self, call_id: str, target: str, ended: asyncio.Event) -> None:
        await ended.wait()
        consult = self._consults.get(call_id)
        if consult is not None and consult.target == target:  # hung up before a hand-over
            self._end_consult(call_id, consult.ending or "target_hangup")

    def _end_consult(self, call_id: str, outcome: str) -> None:
        consult = self._consults.pop(call_id, None)
        if consult is None:
            return
        if isinstance(self._acd, Acd):
            self._acd.free_seat(consult.target, call_id, wrapup=False)
        self._event(call_id, K.CONSULT, consult.seat_id, to=consult.how, seat=consult.target, outcome=outcome)
        self._changed(consult.seat_id)
        self._changed(consult.target)

    async def _back(self, seat: Seat, call_id: str, data: Mapping[str, Any]) -> None:
        consult = self._consults.get(call_id)
        if consult is None:
            raise ControlError(409, "当前没有咨询")
        consult.ending = "back"
        try:
            await self._sip.back(call_id)
        finally:
            self._end_consult(call_id, "back")

    async def _complete(self, seat: Seat, call_id: str, data: Mapping[str, Any]) -> None:
        acd = self._single("转接")
        consult = self._consults.get(call_id)
        if consult is None:
            raise ControlError(409, "当前没有咨询")
        target = acd.seats[consult.target]
        await self._sip.complete(call_id, target.id, target.settings.uri)
        del self._consults[call_id]
        entry = acd.connected(call_id)
        acd.hand_over(call_id, target.id)
        self._event(call_id, K.TRANSFER, seat.id, to=consult.how, how="consulted", seats=target.id)
        if entry is not None:
            await self._note(
                entry.ticket_id, seat.id, "transfer", f"咨询后转至{_named(consult.how)}（座席 {target.id}）"
            )
            await self._repoint(entry.request.context, entry.queue, target, entry.ticket_id or "")
        self._changed(target.id)

    async def _repoint(self, context: Any, queue: str, target: Seat, ticket_id: str) -> None:
        """The ticket's operator becomes the target and its console gets the screen pop."""
        if self._pop is None or not ticket_id:
            return
        offer = Offer(context, queue, target.id, target.settings.uri, ticket_id=ticket_id)
        try:
            await asyncio.wait_for(self._pop.offer(offer), 5.0)
        except Exception:
            log.exception("screen pop of ticket %s to seat %s failed", ticket_id, target.id)

    # --- three-way ----------------------------------------------------------------------------
    async def _conference(self, seat: Seat, call_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
        number = _number(data)
        if call_id in self._consults:
            raise ControlError(409, "正在咨询，请先完成转接或返回")
        headers = {"X-Hotline-Conference": seat.id}
        answered = await self._sip.conference(call_id, number, headers)
        outcome = "answered" if answered else "no_answer"
        self._event(call_id, K.CONFERENCE, seat.id, number=mask(number), outcome=outcome)
        entry = self._acd.connected(call_id) if isinstance(self._acd, Acd) else None
        if entry is not None and answered:
            await self._note(entry.ticket_id, seat.id, "call", f"三方通话：拨打 {number}，已接通")
        return {"outcome": outcome}

    async def _drop_outside(self, seat: Seat, call_id: str, data: Mapping[str, Any]) -> None:
        await self._sip.hangup_outside(call_id)
        self._event(call_id, K.CONFERENCE, seat.id, outcome="outside_dropped")

    async def _leave(self, seat: Seat, call_id: str, data: Mapping[str, Any]) -> None:
        acd = self._single("退出三方通话")
        await self._sip.leave(call_id)
        entry = acd.connected(call_id)
        acd.leave_call(call_id)
        self._event(call_id, K.CONFERENCE, seat.id, outcome="operator_left")
        if entry is not None:
            await self._note(entry.ticket_id, seat.id, "call", "话务员退出三方通话，来电方与外线继续通话")

    # --- records --------------------------------------------------------------------------------
    def _event(self, call_id: str, kind: K, seat_id: str, **data: Any) -> None:
        entry = self._acd.connected(call_id) if isinstance(self._acd, Acd) else None
        queue = entry.queue if entry is not None else ""
        self._acd.events.queue_event(QueueEvent(self._acd.clock.now(), call_id, queue, kind, seat_id, data))
        log.info("call %s: %s by seat %s %s", call_id, kind.value, seat_id, data)

    async def _note(self, ticket_id: str | None, seat_id: str, event: str, note: str) -> None:
        if not ticket_id:
            return
        try:
            await self._store.tickets.update(ticket_id, {}, actor=f"seat:{seat_id}", event=event, note=note)
        except StoreError as exc:
            log.error("ticket %s: %s not noted: %s", ticket_id, event, exc)

    def _changed(self, seat_id: str) -> None:
        for listener in self.listeners:
            listener(seat_id)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        await self.outbound.close()
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)


def _named(to: str) -> str:
    if to == "leader":
        return "值班班长"
    if to.startswith("skill:"):
        return f"技能组 {to[6:]}"
    return f"座席 {to.removeprefix('seat:')}"


def _number(data: Mapping[str, Any]) -> str:
    number = str(data.get("number", "")).replace("-", "").replace(" ", "")
    if not NUMBER.match(number):
        raise ControlError(400, "号码应为 3 到 20 位数字")
    return number
