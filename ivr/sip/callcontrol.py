"""The operator's call controls on the SIP side: hold and resume, consult another phone while the
caller holds and then hand the caller over or go back, give the caller back to the queue (blind
transfer), and a three-way call with an outside number that the operator may leave.

Everything is done with the engine's bridge, play and dial on the seat line's `Connection`s; the
ACD's side of the same actions (seat states, the ticket, events) is agents.controls. Methods raise
`ControlError` with an HTTP-like status and a message for the operator when a control does not
fit the call's state; nothing is changed then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ivr.control import ControlError
from ivr.privacy import mask
from ivr.race import first
from ivr.records import Offer
from ivr.sip.call import Call, Engine
from ivr.sip.events import CallGone
from ivr.sip.seatline import Connection, SipSeatLine

log = logging.getLogger(__name__)


class CallControls:
    def __init__(self, line: SipSeatLine, hold_music: Path, trunk: str, *, answer_timeout: float = 30.0):
        self._line = line
        self._engine: Engine = line.engine
        self._music = hold_music
        self._trunk = trunk  # host:port outside numbers are dialled through ("" : none)
        self._answer_timeout = answer_timeout
        self._tasks: set[asyncio.Task[None]] = set()

    def connection(self, call_id: str) -> Connection:
        conn = self._line.connections.get(call_id)
        if conn is None or conn.caller.ended.is_set():
            raise ControlError(409, "该通话已结束或不在本节点")
        return conn

    def state(self, call_id: str) -> dict[str, object]:
        """What the operator's console shows about the call."""
        conn = self._line.connections.get(call_id)
        if conn is None:
            return {}
        return {
            "held": bool(conn.held),
            "consulting": conn.consult is not None,
            "consult_answered": conn.consult is not None and conn.consult.answered.is_set(),
            "conference": conn.outside is not None,
            "conference_answered": conn.outside is not None and conn.outside.answered.is_set(),
        }

    # --- hold ---------------------------------------------------------------------------------
    async def hold(self, call_id: str) -> None:
        conn = self.connection(call_id)
        async with conn.lock:
            if conn.held:
                raise ControlError(409, "通话已在保持中")
            if conn.outside is not None:
                raise ControlError(409, "三方通话中不能保持，请先挂断外线或退出")
            await self._hold(conn)

    async def resume(self, call_id: str) -> None:
        conn = self.connection(call_id)
        async with conn.lock:
            if not conn.held:
                raise ControlError(409, "通话未在保持中")
            if conn.consult is not None:
                raise ControlError(409, "正在咨询，请先完成转接或返回")
            await self._resume(conn)

    async def _hold(self, conn: Connection) -> None:
        # the caller hears the music and nothing of the operator (both directions are cut)
        await self._engine.unbridge(conn.caller.id, conn.operator.id)
        try:
            conn.held = await self._engine.play(conn.caller.id, self._music, loop=True)
        except CallGone:
            raise ControlError(409, "来电方已挂机") from None
        except Exception as exc:  # a missing music file must not cut the caller off
            log.error("call %s: hold music %s: %s", conn.offer.call_id, self._music, exc)
            conn.held = -1

    async def _resume(self, conn: Connection) -> None:
        if conn.held > 0:
            await self._engine.stop_playing(conn.caller.id, conn.held)
        conn.held = 0
        try:
            await self._engine.bridge(conn.caller.id, conn.operator.id)
        except CallGone:
            raise ControlError(409, "通话已结束") from None

    # --- consult, then hand over or go back -------------------------------------------------
    async def consult(self, call_id: str, uri: str, headers: Mapping[str, str]) -> asyncio.Event | None:
        """The caller holds while the operator's phone is bridged with `uri`'s: the consulted
        phone's `ended`; None (and the caller back with the operator) when it does not answer."""
        conn = self.connection(call_id)
        async with conn.lock:
            if conn.consult is not None or conn.outside is not None:
                raise ControlError(409, "已有咨询或三方通话")
            if not conn.held:
                await self._hold(conn)
            try:
                target = await self._engine.dial(uri, headers)
            except Exception as exc:
                log.error("call %s: cannot dial %s: %s", call_id, uri, exc)
                await self._resume(conn)
                raise ControlError(502, "无法呼叫转接目标") from exc
            conn.consult = target
        # not under the lock: "back" may cancel while it rings
        answered = await target.wait_answer(self._answer_timeout) and not conn.caller.ended.is_set()
        async with conn.lock:
            if conn.consult is not target:  # went back meanwhile
                return None
            if answered:
                try:
                    await asyncio.wait_for(target.media_ready.wait(), 5)
                    await self._engine.bridge(conn.operator.id, target.id)
                    self._spawn(self._consult_ended(conn, target))
                    return target.ended
                except (CallGone, TimeoutError):
                    pass
            conn.consult = None
            await self._drop(target)
            if not conn.caller.ended.is_set():
                await self._resume(conn)
            return None

    async def _consult_ended(self, conn: Connection, target: Call) -> None:
        """The consulted phone hung up before a hand-over: the caller comes back to the operator."""
        await first(target.ended.wait(), conn.caller.ended.wait())
        async with conn.lock:
            if conn.consult is target and not conn.caller.ended.is_set():
                conn.consult = None
                await self._engine.unbridge(conn.operator.id, target.id)
                with contextlib.suppress(ControlError):
                    await self._resume(conn)

    async def back(self, call_id: str) -> None:
        conn = self.connection(call_id)
        async with conn.lock:
            target, conn.consult = conn.consult, None
            if target is None:
                raise ControlError(409, "当前没有咨询")
            await self._engine.unbridge(conn.operator.id, target.id)
            await self._drop(target)
            await self._resume(conn)

    async def complete(self, call_id: str, seat_id: str, seat_uri: str) -> None:
        """Bridge the caller with the consulted phone; the operator's phone leaves the call."""
        conn = self.connection(call_id)
        async with conn.lock:
            target = conn.consult
            if target is None or not target.answered.is_set() or target.ended.is_set():
                raise ControlError(409, "咨询对象尚未接通")
            await self._engine.unbridge(conn.operator.id, target.id)
            if conn.held > 0:
                await self._engine.stop_playing(conn.caller.id, conn.held)
            conn.held = 0
            old, conn.consult = conn.operator, None
            await self._hand_over(conn, target, replace(conn.offer, seat_id=seat_id, seat_uri=seat_uri))
            await self._drop(old)

    async def release(self, call_id: str) -> Connection:
        """Blind transfer: the operator's phone leaves and the caller waits (hold music) for the
        queue to ring the target; the seat line's next ring bridges them as for any caller."""
        conn = self.connection(call_id)
        async with conn.lock:
            if isinstance(conn.caller, Call):
                raise ControlError(409, "回拨的通话不能盲转，请使用咨询转接")
            if conn.consult is not None or conn.outside is not None:
                raise ControlError(409, "请先结束咨询或三方通话")
            if conn.held > 0:
                await self._engine.stop_playing(conn.caller.id, conn.held)
            conn.held = 0
            await self._engine.unbridge(conn.caller.id, conn.operator.id)
            conn.released = True
            await self._line.close_recording(conn)  # linked to the ticket now
            conn.changed.set()
            leg = conn.caller
            leg.connected = False
            await leg.start_hold_music()
            await self._drop(conn.operator)
            return conn

    # --- three-way with an outside number ----------------------------------------------------
    async def conference(self, call_id: str, number: str, headers: Mapping[str, str]) -> bool:
        """Dial `number` through the trunk; once it answers, the caller, the operator and the
        outside party all hear each other. False when it does not answer."""
        if not self._trunk:
            raise ControlError(503, "未配置外呼中继（[followup] trunk），不能拨打外线")
        conn = self.connection(call_id)
        async with conn.lock:
            if conn.consult is not None or conn.outside is not None:
                raise ControlError(409, "已有咨询或三方通话")
            try:
                out = await self._engine.dial(f"sip:{number}@{self._trunk}", headers)
            except Exception as exc:
                log.error("call %s: cannot dial %s: %s", call_id, mask(number), exc)
                raise ControlError(502, "无法拨打外线") from exc
            conn.outside = out
        answered = await out.wait_answer(self._answer_timeout) and not conn.caller.ended.is_set()
        async with conn.lock:
            if conn.outside is not out:
                return False
            if answered:
                try:
                    await asyncio.wait_for(out.media_ready.wait(), 5)
                    if conn.held:  # the caller joins the conversation
                        await self._resume(conn)
                    await self._engine.bridge(conn.caller.id, out.id)
                    await self._engine.bridge(conn.operator.id, out.id)
                    self._spawn(self._outside_ended(conn, out))
                    return True
                except (CallGone, TimeoutError, ControlError):
                    pass
            conn.outside = None
            await self._drop(out)
            return False

    async def _outside_ended(self, conn: Connection, out: Call) -> None:
        await first(out.ended.wait(), conn.caller.ended.wait())
        if conn.outside is out:
            conn.outside = None

    async def hangup_outside(self, call_id: str) -> None:
        conn = self.connection(call_id)
        async with conn.lock:
            out, conn.outside = conn.outside, None
            if out is None:
                raise ControlError(409, "当前没有外线")
            await self._engine.unbridge(conn.caller.id, out.id)
            await self._engine.unbridge(conn.operator.id, out.id)
            await self._drop(out)

    async def leave(self, call_id: str) -> None:
        """The operator leaves a three-way call: the caller and the outside party go on."""
        conn = self.connection(call_id)
        async with conn.lock:
            out = conn.outside
            if out is None or not out.answered.is_set() or out.ended.is_set():
                raise ControlError(409, "外线尚未接通，不能退出三方通话")
            old, conn.outside = conn.operator, None
            await self._engine.unbridge(old.id, out.id)
            await self._hand_over(conn, out, conn.offer)
            await self._drop(old)

    # --- helpers ------------------------------------------------------------------------------
    async def _hand_over(self, conn: Connection, to: Call, offer: Offer) -> None:
        await self._engine.unbridge(conn.caller.id, conn.operator.id)
        await self._line.close_recording(conn)  # the part with the first operator, linked now
        conn.operator, conn.offer = to, offer
        try:
            await self._engine.bridge(conn.caller.id, to.id)
        except CallGone:
            raise ControlError(409, "通话已结束") from None
        await self._line.open_recording(conn)
        conn.changed.set()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drop(self, *calls: Call | None) -> None:
        for call in calls:
            if call is not None and not call.ended.is_set():
                with contextlib.suppress(Exception):
                    await self._engine.hangup(call.id)

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
