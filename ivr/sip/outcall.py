"""Calls the line places itself and runs a flow on (follow-ups, 回访): dial the citizen through
the trunk, and once answered run the flow on the outbound leg as on an incoming one.

Runs on the event loop and drives the call only through the engine's async facade; the leg is
made by the composition root (voice, recognizer, audio folder), as for incoming calls."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

from ivr.flow.interpreter import Interpreter
from ivr.flow.model import FlowSet
from ivr.flow.services import FlowServices
from ivr.privacy import mask
from ivr.race import first
from ivr.records import OutboundResult
from ivr.sip.call import Call, Engine
from ivr.sip.leg import Leg

log = logging.getLogger(__name__)


class OutboundFlows:
    def __init__(
        self,
        engine: Engine,
        make_leg: Callable[[Call], Leg],
        flows: Callable[[], FlowSet],
        services: FlowServices,
        trunk: str,
        *,
        answer_timeout: float = 45.0,
    ) -> None:
        self._engine = engine
        self._make_leg = make_leg
        self._flows = flows
        self._services = services
        self._trunk = trunk  # host:port the citizen is reached through
        self._answer_timeout = answer_timeout
        self._bridges: set[asyncio.Future[None]] = set()  # operator follow-ups under way

    async def call(
        self, number: str, flow: str, variables: Mapping[str, str], call_id: str
    ) -> OutboundResult:
        """Dial `number` and run `flow` (its variables seeded with `variables`) once answered."""
        try:
            out = await self._engine.dial(f"sip:{number}@{self._trunk}", {"X-Hotline-Followup": call_id})
        except Exception as exc:
            log.error("%s: cannot dial %s: %s", call_id, mask(number), exc)
            return OutboundResult("failed")
        try:
            if not await out.wait_answer(self._answer_timeout):
                busy = out.status in (486, 600, 603)
                log.info("%s: %s did not answer (%d)", call_id, mask(number), out.status)
                return OutboundResult("busy" if busy else "no_answer")
            await asyncio.wait_for(out.media_ready.wait(), 5)
            interpreter = Interpreter(self._flows(), self._make_leg(out), self._services)
            interpreter.vars.update(variables)
            result = await interpreter.run(flow)
            log.info("%s: %s answered; %s", call_id, mask(number), " > ".join(result.route))
            return OutboundResult("answered", dict(result.variables))
        except TimeoutError:
            return OutboundResult("failed")
        finally:
            if not out.ended.is_set():
                with contextlib.suppress(Exception):
                    await self._engine.hangup(out.id)

    async def connect(
        self, seat_uri: str, number: str, call_id: str, *, on_end: Callable[[], None] | None = None
    ) -> OutboundResult:
        """An operator's call from the console (a follow-up, a callback, a unit's phone): ring the
        seat's phone first, then dial the number and bridge the two; returns once bridged (or
        not reached). The bridge ends when either side hangs up; then `on_end` is called."""
        seat: Call | None = None
        citizen: Call | None = None
        try:
            seat = await self._engine.dial(seat_uri, {"X-Hotline-Followup": call_id})
            if not await seat.wait_answer(30):
                return OutboundResult("failed")
            citizen = await self._engine.dial(f"sip:{number}@{self._trunk}", {"X-Hotline-Followup": call_id})
            if not await citizen.wait_answer(self._answer_timeout):
                await self._drop(seat)
                return OutboundResult("busy" if citizen.status in (486, 600, 603) else "no_answer")
            await asyncio.wait_for(asyncio.gather(seat.media_ready.wait(), citizen.media_ready.wait()), 5)
            await self._engine.bridge(citizen.id, seat.id)
        except Exception as exc:  # CallGone, a timeout, a dial refused: not reached
            log.warning("%s: operator follow-up to %s failed: %s", call_id, mask(number), exc)
            await self._drop(seat, citizen)
            return OutboundResult("failed")
        task = asyncio.ensure_future(self._hold_until_one_leaves(seat, citizen, on_end))
        self._bridges.add(task)
        task.add_done_callback(self._bridges.discard)
        return OutboundResult("answered")

    async def _hold_until_one_leaves(self, a: Call, b: Call, on_end: Callable[[], None] | None) -> None:
        try:
            await first(a.ended.wait(), b.ended.wait())
            await self._drop(a, b)
        finally:
            if on_end is not None:
                on_end()

    async def _drop(self, *calls: Call | None) -> None:
        for call in calls:
            if call is not None and not call.ended.is_set():
                with contextlib.suppress(Exception):
                    await self._engine.hangup(call.id)
