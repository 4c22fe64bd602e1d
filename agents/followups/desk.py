"""The rules of a follow-up (回访): when a unit replies, a task is due; an answer closes the
ticket or reopens it to the unit (重办) with the citizen's words in its history; a citizen the
line cannot reach after its retries goes to the operators' worklist.

An answer is `solved` (bool) and `satisfaction` (满意, 基本满意, 不满意). Unsolved or unsatisfied
reopens; anything else closes. The answer is kept on the task, in the ticket's history (event
`followup`) and in the ticket's survey under "followup" (the figures read it there)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from agents.tickets.lifecycle import LifeError, TicketLife
from ivr.records import Followup, Ticket

log = logging.getLogger(__name__)

SATISFACTION = ("满意", "基本满意", "不满意")
RETRY_OUTCOMES = ("no_answer", "busy", "failed")


def verdict(solved: bool, satisfaction: str) -> str:
    """ "close" or "reopen" for an answer."""
    return "close" if solved and satisfaction != "不满意" else "reopen"


class FollowupDesk:
    def __init__(
        self,
        life: TicketLife,
        *,
        delay_seconds: float = 0.0,
        retry_seconds: float = 3600.0,
        max_attempts: int = 3,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.life = life
        self.store = life.store
        self._retry = retry_seconds
        self._max = max_attempts
        self._now = now
        # the task is written with the unit's reply, in one transaction (TicketLife.reply)
        life.followup_after = delay_seconds

    async def attempt_failed(self, task: Followup, outcome: str) -> Followup:
        """No answer, busy or a failed call: try again later, or give it to the operators."""
        attempts = task.attempts + 1
        state = "worklist" if attempts >= self._max else "due"
        after = replace(
            task,
            state=state,
            attempts=attempts,
            last_outcome=outcome,
            due_at=self._now() + self._retry if state == "due" else task.due_at,
            updated_at=self._now(),
        )
        await self.store.followups.save(after)
        if state == "worklist":
            log.info("follow-up %s: %d attempts (%s), to the operators' worklist", task.id, attempts, outcome)
        return after

    async def answer(
        self, task: Followup, solved: bool, satisfaction: str, *, by: str, words: str = ""
    ) -> Ticket:
        """Record the citizen's answer and close or reopen the ticket. Raises LifeError (400) for
        an answer out of range, (409) when the ticket is not waiting for a follow-up."""
        if satisfaction not in SATISFACTION:
            raise LifeError(400, f"满意度应为 {'、'.join(SATISFACTION)} 之一")
        ticket = await self.store.tickets.get(task.ticket_id)
        if ticket is None or ticket.status != "replied" or task.state == "done":
            raise LifeError(409, "该工单不在待回访状态")
        now = self._now()
        answer: dict[str, Any] = {"solved": solved, "satisfaction": satisfaction, "by": by, "at": now}
        if words:
            answer["words"] = words
        summary = f"{'已解决' if solved else '未解决'}，{satisfaction}" + (f"：{words}" if words else "")
        survey: Mapping[str, Any] = {**ticket.survey, "followup": answer}
        await self.store.tickets.update(
            ticket.id, {"survey": survey}, actor=by, event="followup", note=summary
        )
        await self.store.followups.save(
            replace(
                task,
                state="done",
                attempts=task.attempts + 1,
                last_outcome="answered",
                answer=answer,
                updated_at=now,
            )
        )
        if verdict(solved, satisfaction) == "close":
            return await self.life.close(ticket.id, actor=by, note=summary)
        return await self.life.reopen(ticket.id, actor=by, note=f"回访：{summary}")
