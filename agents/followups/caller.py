"""The line's follow-up calls: every few seconds, within the allowed hours, take the tasks that
are due, call each citizen through the trunk and run the follow-up flow, then record the answer
or plan a retry (agents.followups.desk).

The SIP part is a `FollowupLine`: `ivr.sip.outcall.OutboundFlows` places the call and runs the
flow on the outbound leg. A call that ends without both answers counts as not reached."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from agents.followups.desk import FollowupDesk
from agents.tickets.lifecycle import LifeError
from ivr.flow.calendar import CHINA, TimeRange
from ivr.records import Followup, OutboundResult

log = logging.getLogger(__name__)
BRIEF = 120  # characters of the unit's reply read to the citizen
# a call of the line's that has been "calling" this long died with its process: call again
STALE_SECONDS = 1800.0


class FollowupLine(Protocol):
    async def call(
        self, number: str, flow: str, variables: Mapping[str, str], call_id: str
    ) -> OutboundResult:
        """Dial `number`, run `flow` with `variables` once answered, return how it went."""
        ...


class FollowupCaller:
    def __init__(
        self,
        desk: FollowupDesk,
        line: FollowupLine,
        *,
        hours: Sequence[TimeRange] = (TimeRange(9 * 60, 20 * 60),),
        flow: str = "followup",
        every: float = 30.0,
        stale_after: float = STALE_SECONDS,
        tz: dt.tzinfo = CHINA,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._desk = desk
        self._line = line
        self._hours = tuple(hours)
        self._flow = flow
        self._every = every
        self._stale = stale_after
        self._tz = tz
        self._now = now
        self._task: asyncio.Task[None] | None = None

    def may_call(self, at: float) -> bool:
        """Citizens are called only within the allowed hours (the centre's local time)."""
        local = dt.datetime.fromtimestamp(at, self._tz).time()
        return any(r.contains(local) for r in self._hours)

    async def round(self, limit: int = 20) -> list[Followup]:
        """One pass: the due tasks, one call at a time (the line's outbound capacity is the
        trunk's; a centre that needs more runs more nodes). Returns the tasks as they ended."""
        now = self._now()
        await self.recover(now)
        if not self.may_call(now):
            return []
        ended: list[Followup] = []
        for task in await self._desk.store.followups.in_state("due", due_before=now, limit=limit):
            claimed = await self._desk.store.followups.claim(task.id, "due", "calling")
            if claimed is not None:
                ended.append(await self.call(claimed))
        return ended

    async def recover(self, now: float) -> list[Followup]:
        """The line's tasks left "calling" by a process that stopped mid-call (a crash, a node
        lost) go back to "due", so no follow-up is lost; an operator's taken tasks stay theirs."""
        back: list[Followup] = []
        for task in await self._desk.store.followups.in_state("calling", limit=200):
            if not task.operator and task.updated_at < now - self._stale:
                again = await self._desk.store.followups.claim(task.id, "calling", "due")
                if again is not None:
                    log.warning(
                        "follow-up %s was left calling since %.0f: due again", task.id, task.updated_at
                    )
                    back.append(again)
        return back

    async def call(self, task: Followup) -> Followup:
        ticket = await self._desk.store.tickets.get(task.ticket_id)
        if ticket is None or ticket.status != "replied":  # reopened or closed meanwhile
            done = await self._desk.store.followups.get(task.id)
            assert done is not None
            return await self._finish(done, "done")
        reply = str(ticket.reply.get("done", ""))[:BRIEF]
        variables = {"ticket_no": ticket.id, "unit": ticket.unit, "reply": reply}
        try:
            result = await self._line.call(ticket.caller, self._flow, variables, f"followup-{task.id}")
        except Exception:
            log.exception("follow-up %s: the call failed", task.id)
            result = OutboundResult("failed")
        solved, satisfaction = result.variables.get("solved"), result.variables.get("satisfaction")
        if result.outcome == "answered" and solved in ("yes", "no") and satisfaction:
            try:
                await self._desk.answer(task, solved == "yes", str(satisfaction), by="followup:line")
            except LifeError as exc:
                log.warning("follow-up %s: answer not recorded: %s", task.id, exc.message)
            after = await self._desk.store.followups.get(task.id)
            assert after is not None
            return after
        outcome = result.outcome if result.outcome != "answered" else "no_answer"  # hung up midway
        return await self._desk.attempt_failed(task, outcome)

    async def _finish(self, task: Followup, state: str) -> Followup:
        done = replace(task, state=state, updated_at=self._now())
        await self._desk.store.followups.save(done)
        return done

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="followup-caller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.round()
            except Exception:  # the next round tries again; the caller never stops
                log.exception("follow-up round failed")
            await asyncio.sleep(self._every)
