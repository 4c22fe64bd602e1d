"""A ticket's life after the operator: dispatch to a unit, accept, return (退单) to the centre's
dispatch desk, progress notes, the reply (办结反馈), the follow-up's verdict (close or 重办).

Every step is one store update: the status move (checked against `TRANSITIONS`), the step's
event and words in the history, its MQTT messages in the outbox and, for a reply, the follow-up
task, in one transaction. So a
unit's dispatch platform that is down misses nothing: the outbox keeps the messages until the
broker takes them. Steps from a unit are checked against the unit: a unit acts only on tickets
dispatched to it (by the unit's name, as `Ticket.unit` holds it)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from ivr.bus import Topics, envelope
from ivr.records import AT_UNIT, TRANSITIONS, Ticket, TicketQuery, Unit
from ivr.store import Outgoing, Store, StoreError

log = logging.getLogger(__name__)

# the deadline of a ticket dispatched at a time (agents.tickets.deadlines); 0: none
DuePolicy = Callable[[Ticket, float], float]
NOTE_LIMIT = 2000  # a return reason, a note, a reply: a few paragraphs at most
RESULTS = ("solved", "explained", "unsolvable")  # 已解决, 已解释说明, 无法解决 (reply result)
# the statuses an operator sets; the rest of a ticket's life is the units' and the dispatch desk's
OPERATOR_STATUSES = ("draft", "open", "dispatched", "closed")
FILING = ("draft", "open")  # while the operator still holds the ticket
DISPATCH_NEEDS = {"category1": "一级分类", "description": "诉求内容", "unit": "承办单位"}


class LifeError(Exception):
    """A step refused: `status` as HTTP would say it, `message` for the person, in Chinese."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def operator_move(current: Ticket, fields: Mapping[str, Any]) -> bool:
    """The one rule for an operator's change, whichever way it comes (page, REST, MQTT): which
    status they may set and when. Raises LifeError; True when the change dispatches the ticket
    (then `TicketLife.dispatch` makes the move, with its deadline and the unit's feed)."""
    to = fields.get("status", current.status)
    if to == current.status:
        return False
    if to not in OPERATOR_STATUSES:
        raise LifeError(400, f"status 应为 {', '.join(OPERATOR_STATUSES)} 之一")
    if current.status not in FILING:
        raise LifeError(409, "工单已派出，状态由承办单位和派单台处理")
    if to not in TRANSITIONS[current.status] and to != "draft":
        raise LifeError(409, f"工单当前状态为 {current.status}，不能改为 {to}")
    if to == "dispatched":
        after = {**current.as_dict(), **fields}
        missing = [label for name, label in DISPATCH_NEEDS.items() if not str(after[name]).strip()]
        if missing:
            raise LifeError(422, f"派单前请填写：{'、'.join(missing)}")
        return True
    return False


def no_deadline(_: Ticket, __: float) -> float:
    return 0.0


class TicketLife:
    def __init__(
        self, store: Store, topics: Topics, due: DuePolicy = no_deadline, now: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.topics = topics
        self.due = due
        self.now = now
        # called after every step with the ticket and the event (the follow-up desk waits for
        # "reply"); a listener's failure is logged, never undoes the step
        self.listeners: list[Callable[[Ticket, str], Awaitable[None]]] = []
        # a reply makes a follow-up task due this long after it, in the reply's own transaction
        # (agents.followups sets it); None: the centre makes no follow-ups
        self.followup_after: float | None = None

    # --- the centre's side ---------------------------------------------------------------
    async def dispatch(self, ticket_id: str, unit_name: str, *, actor: str, note: str = "") -> Ticket:
        """派单 (or re-dispatch of a returned ticket) with a fresh deadline. A unit without an
        account in the store still gets the ticket by name (a centre registers its units over
        time), but has no inbox to see it in: that is logged."""
        if not unit_name.strip():
            raise LifeError(422, "派单前请填写：承办单位")
        unit = await self.unit_named(unit_name)
        if unit is None:
            log.warning("ticket %s dispatched to %r, which has no unit account", ticket_id, unit_name)
        ticket = await self._get(ticket_id)
        event = "redispatch" if ticket.status == "returned" else "dispatch"
        due = self.due(ticket, self.now())
        fields = {"status": "dispatched", "unit": unit_name, "due_at": due}
        return await self._step(ticket, fields, actor=actor, event=event, note=note, notify=unit)

    async def close(self, ticket_id: str, *, actor: str, note: str = "") -> Ticket:
        return await self._step(
            await self._get(ticket_id), {"status": "closed"}, actor=actor, event="close", note=note
        )

    async def reopen(self, ticket_id: str, *, actor: str, note: str) -> Ticket:
        """重办: back to the same unit with a new deadline; `note` is the citizen's answer."""
        ticket = await self._get(ticket_id)
        unit = await self.unit_named(ticket.unit)
        fields = {"status": "reopened", "due_at": self.due(ticket, self.now())}
        return await self._step(ticket, fields, actor=actor, event="reopen", note=note, notify=unit)

    async def remind(self, ticket: Ticket, kind: str) -> Ticket:
        """督办: tell the unit its ticket is due soon or overdue (kept in the history as well)."""
        unit = await self.unit_named(ticket.unit)
        return await self._step(ticket, {}, actor="deadline", event="remind", note=kind, notify=unit)

    # --- the unit's side -----------------------------------------------------------------
    async def inbox(self, unit: Unit) -> list[Ticket]:
        """Tickets the unit must handle, the earliest deadline first (no deadline last); for a
        unit with more than a page per status, the most urgent page (the store orders them)."""
        found: list[Ticket] = []
        for status in AT_UNIT:
            query = TicketQuery(unit=unit.name, status=status, limit=500, due_first=True)
            found += await self.store.tickets.search(query)
        return sorted(found, key=lambda t: (t.due_at == 0, t.due_at, t.id))

    async def accept(self, unit: Unit, ticket_id: str, *, actor: str) -> Ticket:
        ticket = await self._at(unit, ticket_id)
        return await self._step(ticket, {"status": "accepted"}, actor=actor, event="accept")

    async def give_back(self, unit: Unit, ticket_id: str, reason: str, *, actor: str) -> Ticket:
        """退单: the ticket goes back to the centre's dispatch desk with the unit's reason."""
        if not reason.strip():
            raise LifeError(400, "退单须填写理由")
        ticket = await self._at(unit, ticket_id)
        return await self._step(ticket, {"status": "returned"}, actor=actor, event="return", note=reason)

    async def note(self, unit: Unit, ticket_id: str, text: str, *, actor: str) -> Ticket:
        """A progress note: kept in the history, the status unchanged."""
        if not text.strip():
            raise LifeError(400, "进展说明不能为空")
        ticket = await self._at(unit, ticket_id)
        return await self._step(ticket, {}, actor=actor, event="note", note=text)

    async def reply(self, unit: Unit, ticket_id: str, done: str, result: str, *, actor: str) -> Ticket:
        """办结反馈: what was done and the result; the follow-up (回访) is due from now."""
        if not done.strip():
            raise LifeError(400, "请填写办理情况")
        if result not in RESULTS:
            raise LifeError(400, f"办理结果应为 {', '.join(RESULTS)} 之一")
        ticket = await self._at(unit, ticket_id)
        reply = {"done": done, "result": result, "at": self.now(), "by": actor}
        return await self._step(
            ticket, {"status": "replied", "reply": reply}, actor=actor, event="reply", note=done
        )

    # --- shared --------------------------------------------------------------------------
    async def unit_named(self, name: str) -> Unit | None:
        return next((u for u in await self.store.units.units() if u.name == name), None)

    async def _get(self, ticket_id: str) -> Ticket:
        ticket = await self.store.tickets.get(ticket_id)
        if ticket is None:
            raise LifeError(404, f"没有工单 {ticket_id}")
        return ticket

    async def _at(self, unit: Unit, ticket_id: str) -> Ticket:
        ticket = await self._get(ticket_id)
        if ticket.unit != unit.name:
            raise LifeError(403, "该工单未派给本单位")
        return ticket

    async def _step(
        self,
        ticket: Ticket,
        fields: dict[str, Any],
        *,
        actor: str,
        event: str,
        note: str = "",
        notify: Unit | None = None,
    ) -> Ticket:
        to = fields.get("status", ticket.status)
        if "status" in fields and to not in TRANSITIONS[ticket.status]:
            raise LifeError(409, f"工单当前状态为 {ticket.status}，不能 {event}")
        if event in ("note", "remind") and ticket.status not in AT_UNIT:
            raise LifeError(409, f"工单当前状态为 {ticket.status}，不能添加进展")
        if len(note) > NOTE_LIMIT:
            raise LifeError(413, f"说明超过 {NOTE_LIMIT} 字")

        def announce(t: Ticket) -> Sequence[Outgoing]:
            return self.messages(t, event, note, actor, notify)

        followup_at = None
        if event == "reply" and self.followup_after is not None:
            followup_at = self.now() + self.followup_after
        try:
            done = await self.store.tickets.update(
                ticket.id, fields, actor=actor, also=announce, event=event, note=note, followup_at=followup_at
            )
        except StoreError as exc:
            raise LifeError(400, str(exc)) from exc
        for listener in self.listeners:
            try:
                await listener(done, event)
            except Exception:
                log.exception("after %s of ticket %s", event, ticket.id)
        return done

    def messages(self, t: Ticket, event: str, note: str, actor: str, notify: Unit | None) -> list[Outgoing]:
        """The ticket as it now is to its operator's seat (not retained: only that seat's console
        may read it), the event, and the unit's inbox feed on dispatch and reopen; committed with
        the change."""
        topics = self.topics
        body = {"ticket_id": t.id, "event": event, "note": note, "actor": actor, "status": t.status}
        out = [
            Outgoing(topics.ticket_event(t.id), envelope("ticket_event", {**body, "ticket": t.as_dict()})),
        ]
        if t.operator:
            ticket = envelope("ticket", {"ticket": t.as_dict(), "actor": actor})
            out.insert(0, Outgoing(topics.seat_ticket(t.operator, t.id), ticket))
        if notify is not None:
            feed = {**body, "unit_id": notify.id, "due_at": t.due_at, "ticket": t.as_dict()}
            out.append(Outgoing(topics.unit_inbox(notify.id), envelope("unit_ticket", feed)))
        return out
