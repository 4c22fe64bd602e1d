"""The ACD's reach into SIP: ring an operator's seat, bridge it with the waiting caller (B2BUA),
record both parties for quality checks, and report who ended the call.

Each bridged call is a `Connection`, kept by the queue's call id while it lasts, so the
operator's call controls (ivr.sip.callcontrol) can hold it, hand it to another phone or add a
third party; the watcher follows whoever is the operator's side now.

Runs on the event loop and drives calls only through the engine's async facade; a call that has
gone (`CallGone`) is the caller or the seat having hung up, not an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ivr.race import first
from ivr.records import Offer, RingOutcome
from ivr.sip.call import Call, Engine
from ivr.sip.events import CallGone

if TYPE_CHECKING:
    from ivr.sip.leg import Leg

log = logging.getLogger(__name__)

Ended = Callable[[Offer, Literal["caller", "operator"], str], None]  # offer, who ended, recording
Connected = Callable[[Offer, str], None]  # offer, recording
Recorded = Callable[[Offer, str], None]  # a recording closed before the call's end (a hand-over)


@dataclass(eq=False)
class Connection:
    """A caller bridged to the operator's side. The controls change `operator` (a transfer, a
    three-way call the operator left) and a team leader's take-over does too (ivr.sip.leader);
    either sets `changed`, so the watcher follows the new side."""

    caller: Leg | Call
    operator: Call
    offer: Offer
    recording: str = ""
    token: int = 0  # the recorder's
    held: int = 0  # the hold-music player's token while the caller holds
    consult: Call | None = None  # the phone the operator consults while the caller holds
    outside: Call | None = None  # the outside number of a three-way call
    released: bool = False  # the operator handed the caller back to the queue (blind transfer)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    done: asyncio.Event = field(default_factory=asyncio.Event)  # the watch is over

    @property
    def caller_id(self) -> str:
        return self.caller.id


class SipSeatLine:
    def __init__(
        self,
        engine: Engine,
        legs: Callable[[str], Leg | None],
        on_ended: Ended,
        recordings: Path,
        on_connected: Connected | None = None,
    ):
        self.engine = engine
        self._legs = legs
        self._on_ended = on_ended
        self._on_connected = on_connected  # the call's row names seat, ticket and recording now
        self.recordings = recordings
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections: dict[str, Connection] = {}  # by the queue's call id
        self.on_recorded: Recorded | None = None

    def conversation_of(self, seat_id: str) -> Connection | None:
        """The call the seat's operator is in (or the leader who took it over)."""
        return next((c for c in self.connections.values() if c.offer.seat_id == seat_id), None)

    async def hand_over(self, call_id: str, operator: Call) -> tuple[Call, str]:
        """The call goes on with `operator` (a leader who takes over): the QA recording of the
        part before ends and a new one (caller and leader) begins. Returns the operator before
        and the finished recording (the leader's line links it)."""
        conn = self.connections[call_id]
        old, conn.operator = conn.operator, operator
        finished = conn.recording
        if conn.token:
            with contextlib.suppress(CallGone):
                await self.engine.stop_recording(conn.caller.id, conn.token)
        conn.recording, conn.token = "", 0
        await self.open_recording(conn)  # the caller left meanwhile: the watch ends the call
        conn.changed.set()
        return old, finished

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
            out = await self.engine.dial(offer.seat_uri, headers)
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
            await self.engine.bridge(leg.id, out.id)
            path, token = await self._record(leg.id, out.id, offer)
        except asyncio.CancelledError:
            await self._drop(out)
            raise
        except CallGone as gone:
            leg.connected = False
            await self._drop(out)
            if gone.call_id == leg.id:
                return "caller_gone"
            log.warning("seat %s hung up before call %s was bridged", offer.seat_id, offer.call_id)
            return "failed"
        except Exception:
            log.exception("seat %s: bridging call %s failed", offer.seat_id, offer.call_id)
            leg.connected = False
            await self._drop(out)
            return "failed"
        finally:
            if not out.answered.is_set() and not out.ended.is_set():
                await self._drop(out)
        log.info("call %s connected to seat %s (ticket %s)", offer.call_id, offer.seat_id, offer.ticket_id)
        if self._on_connected is not None:
            self._on_connected(offer, path)
        self._spawn(self._watch(Connection(leg, out, offer, path, token)))
        return "answered"

    async def _callback(self, offer: Offer, timeout: float) -> RingOutcome:
        """The caller hung up keeping their place: ring the seat, then dial the citizen back through
        the trunk the call came in on, and bridge the two."""
        trunk = offer.context.origin or "127.0.0.1:5060"
        headers = {"X-Hotline-Caller": offer.context.caller, "X-Hotline-Callback": "1"}
        if offer.ticket_id:
            headers["X-Hotline-Ticket"] = offer.ticket_id
        try:
            operator = await self.engine.dial(offer.seat_uri, headers)
        except Exception as exc:
            log.error("seat %s: cannot dial %s: %s", offer.seat_id, offer.seat_uri, exc)
            return "failed"
        citizen: Call | None = None
        try:
            if not await operator.wait_answer(timeout):
                return self._why(operator)
            citizen = await self.engine.dial(f"sip:{offer.context.caller}@{trunk}")
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
            await self.engine.bridge(citizen.id, operator.id)
            path, token = await self._record(citizen.id, operator.id, offer)
        except asyncio.CancelledError:
            await self._drop(operator, citizen)
            raise
        except CallGone as gone:
            await self._drop(operator, citizen)
            if citizen is not None and gone.call_id == citizen.id:
                return "caller_gone"
            log.warning(
                "seat %s hung up before the callback to %s was bridged", offer.seat_id, offer.context.caller
            )
            return "failed"
        except Exception:
            log.exception("callback for %s failed", offer.call_id)
            await self._drop(operator, citizen)
            return "failed"
        log.info(
            "callback: seat %s connected to %s (ticket %s)",
            offer.seat_id,
            offer.context.caller,
            offer.ticket_id,
        )
        self._spawn(self._watch(Connection(citizen, operator, offer, path, token)))
        return "answered"

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record(self, caller_id: str, seat_id: str, offer: Offer) -> tuple[str, int]:
        day = time.strftime("%Y-%m-%d")
        name = f"{offer.ticket_id or offer.call_id}-{int(time.time() * 1000)}.wav".replace("/", "_")
        path = self.recordings / day / name
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            token = await self.engine.record(caller_id, path, also=(seat_id,))
        except CallGone:  # a party hung up: the caller ring() reports that
            raise
        except Exception as exc:  # a QA recording must never cost the caller the call
            log.error("call %s: recording failed: %s", offer.call_id, exc)
            return "", 0
        return str(path), token

    async def close_recording(self, conn: Connection) -> None:
        """The operator's side is about to change: close this part's recording and link it to
        the ticket now (the caller's next part is recorded with the new side)."""
        if conn.token:
            await self.engine.stop_recording(conn.caller.id, conn.token)
        if conn.recording and self.on_recorded is not None:
            self.on_recorded(conn.offer, conn.recording)
        conn.recording, conn.token = "", 0

    async def open_recording(self, conn: Connection) -> None:
        with contextlib.suppress(CallGone):
            conn.recording, conn.token = await self._record(conn.caller.id, conn.operator.id, conn.offer)

    async def _watch(self, conn: Connection) -> None:
        """Wait for either side to hang up, end the other side's part, and report who ended it.
        A hand-over (conn.changed) swaps the operator's side; a release ends the watch quietly."""
        key = conn.offer.call_id
        self.connections[key] = conn
        try:
            for _ in range(10_000):  # one turn per hand-over
                conn.changed.clear()
                await first(conn.caller.ended.wait(), conn.operator.ended.wait(), conn.changed.wait())
                if conn.released:
                    return
                if not (conn.caller.ended.is_set() or conn.operator.ended.is_set()):
                    continue
                break
        finally:
            if self.connections.get(key) is conn:
                del self.connections[key]
            conn.done.set()
        caller, operator = conn.caller, conn.operator
        by: Literal["caller", "operator"] = "caller" if caller.ended.is_set() else "operator"
        await self._drop(conn.consult, conn.outside)
        if by == "caller":
            await self._drop(operator)
        elif isinstance(caller, Call):  # a callback: nothing follows for the citizen
            await self._drop(caller)
        else:  # the caller stays on the line for the survey, which is not part of the recording
            if conn.held:
                await self.engine.stop_playing(caller.id, conn.held)
            await self.engine.unbridge(caller.id, operator.id)
            if conn.token:
                await self.engine.stop_recording(caller.id, conn.token)
        if not isinstance(caller, Call):
            caller.connected = False
        self._on_ended(conn.offer, by, conn.recording)

    @staticmethod
    def _why(out: Call) -> RingOutcome:
        if out.status in (486, 600, 603):
            return "busy"
        if out.status in (0, 180, 183, 408, 480, 487) or not out.ended.is_set():
            return "no_answer"
        return "failed"

    async def _drop(self, *calls: Call | None) -> None:
        for call in calls:
            if call is not None and not call.ended.is_set():
                await self.engine.hangup(call.id)

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
