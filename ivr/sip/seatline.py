"""The ACD's reach into SIP: ring an operator's seat, bridge it with the waiting caller (B2BUA),
record both parties for quality checks, and report who ended the call."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ivr.records import Offer, RingOutcome
from ivr.sip.engine import SipEngine
from ivr.sip.router import CallRouter, OutboundCall

if TYPE_CHECKING:
    from ivr.sip.leg import Leg

log = logging.getLogger(__name__)

Ended = Callable[[Offer, Literal["caller", "operator"], str], None]  # offer, who ended, recording


class SipSeatLine:
    def __init__(
        self,
        engine: SipEngine,
        router: CallRouter,
        legs: Callable[[str], Leg | None],
        on_ended: Ended,
        recordings: Path,
    ):
        self.engine = engine
        self.router = router
        self._legs = legs
        self._on_ended = on_ended
        self.recordings = recordings
        self._tasks: set[asyncio.Task[None]] = set()
        self.ring_to_invite_ms: list[float] = []  # offer decided -> INVITE sent (benchmarks)

    async def ring(self, offer: Offer, timeout: float) -> RingOutcome:
        if offer.callback:
            return await self._callback(offer, timeout)
        leg = self._legs(offer.call_id)
        if leg is None or leg.ended.is_set():
            return "caller_gone"
        headers = {"X-Hotline-Caller": offer.context.caller}
        if offer.ticket_id:
            headers["X-Hotline-Ticket"] = offer.ticket_id
        try:
            out = await self.router.dial(self.engine, offer.seat_uri, headers)
        except Exception as exc:
            log.error("seat %s: cannot dial %s: %s", offer.seat_id, offer.seat_uri, exc)
            return "failed"
        try:
            answered = await out.wait_answer(timeout)
            if leg.ended.is_set():
                return "caller_gone"
            if not answered:
                return self._why(out)
            await asyncio.wait_for(out.media_ready.wait(), 5)
            leg.connected = True  # no hold music or announcement may start over the conversation
            await leg.stop_hold_music()
            await self.engine.submit(lambda: self.engine.bridge(leg.id, out.call_id))
            path, token = await self._record(leg.id, out.call_id, offer)
        except asyncio.CancelledError:
            await self._drop(out)
            raise
        except Exception:
            log.exception("seat %s: bridging call %s failed", offer.seat_id, offer.call_id)
            await self._drop(out)
            return "failed"
        finally:
            if not out.answered.is_set() and not out.ended.is_set():
                await self._drop(out)
        log.info("call %s connected to seat %s (ticket %s)", offer.call_id, offer.seat_id, offer.ticket_id)
        task = asyncio.ensure_future(self._watch(leg, out, offer, path, token))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return "answered"

    async def _callback(self, offer: Offer, timeout: float) -> RingOutcome:
        """The caller hung up keeping their place: ring the seat, then dial the citizen back through
        the trunk the call came in on, and bridge the two."""
        trunk = offer.context.origin or "127.0.0.1:5060"
        headers = {"X-Hotline-Caller": offer.context.caller, "X-Hotline-Callback": "1"}
        if offer.ticket_id:
            headers["X-Hotline-Ticket"] = offer.ticket_id
        operator = await self.router.dial(self.engine, offer.seat_uri, headers)
        citizen: OutboundCall | None = None
        try:
            if not await operator.wait_answer(timeout):
                return self._why(operator)
            citizen = await self.router.dial(self.engine, f"sip:{offer.context.caller}@{trunk}")
            if not await citizen.wait_answer(45):
                log.warning(
                    "callback to %s for ticket %s: not answered (%d)",
                    offer.context.caller,
                    offer.ticket_id,
                    citizen.status,
                )
                await self._drop(operator)
                return "caller_gone"
            await asyncio.wait_for(asyncio.gather(operator.media_ready.wait(), citizen.media_ready.wait()), 5)
            await self.engine.submit(lambda: self.engine.bridge(citizen.call_id, operator.call_id))
            path, token = await self._record(citizen.call_id, operator.call_id, offer)
        except asyncio.CancelledError:
            await self._drop(operator)
            if citizen is not None:
                await self._drop(citizen)
            raise
        except Exception:
            log.exception("callback for %s failed", offer.call_id)
            await self._drop(operator)
            if citizen is not None:
                await self._drop(citizen)
            return "failed"
        log.info(
            "callback: seat %s connected to %s (ticket %s)",
            offer.seat_id,
            offer.context.caller,
            offer.ticket_id,
        )
        task = asyncio.ensure_future(self._watch(citizen, operator, offer, path, token))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return "answered"

    async def _record(self, caller_id: int, seat_id: int, offer: Offer) -> tuple[str, int]:
        day = time.strftime("%Y-%m-%d")
        name = f"{offer.ticket_id or offer.call_id}-{int(time.time())}.wav".replace("/", "_")
        path = self.recordings / day / name
        path.parent.mkdir(parents=True, exist_ok=True)
        token = self.engine.token()

        def start() -> None:
            caller, seat = self.engine.call(caller_id), self.engine.call(seat_id)
            caller.record(token, path, [a for a in (caller.audio, seat.audio) if a is not None])

        try:
            await self.engine.submit(start)
        except Exception as exc:  # a QA recording must never cost the caller the call
            log.error("call %s: recording failed: %s", offer.call_id, exc)
            return "", 0
        return str(path), token

    async def _watch(
        self,
        caller: Leg | OutboundCall,
        operator: OutboundCall,
        offer: Offer,
        recording: str,
        token: int,
    ) -> None:
        """Wait for either side to hang up, end the other side's part, and report who ended it."""
        a = asyncio.ensure_future(caller.ended.wait())
        b = asyncio.ensure_future(operator.ended.wait())
        try:
            await asyncio.wait({a, b}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            a.cancel()
            b.cancel()
        by: Literal["caller", "operator"] = "caller" if caller.ended.is_set() else "operator"
        if by == "caller":
            await self._drop(operator)
        elif isinstance(caller, OutboundCall):  # a callback: nothing follows for the citizen
            await self._drop(caller)
        else:  # the caller stays on the line for the survey, which is not part of the recording
            with contextlib.suppress(Exception):
                await self.engine.submit(lambda: self.engine.unbridge(caller.id, operator.call_id))
            with contextlib.suppress(Exception):
                await self.engine.submit(lambda: self.engine.call(caller.id).stop_record(token))
        if not isinstance(caller, OutboundCall):
            caller.connected = False
        self._on_ended(offer, by, recording)

    @staticmethod
    def _why(out: OutboundCall) -> RingOutcome:
        if out.status in (486, 600, 603):
            return "busy"
        if out.status in (0, 180, 183, 408, 480, 487) or not out.ended.is_set():
            return "no_answer"
        return "failed"

    async def _drop(self, out: OutboundCall) -> None:
        with contextlib.suppress(Exception):
            await self.engine.submit(lambda: self.engine.hangup(out.call_id))

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
