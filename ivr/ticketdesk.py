"""Tickets as the voice menus see them: self-service tickets from a flow's `ticket` node, the
progress a caller hears for 查询工单进度, survey answers, and the screen-pop context of a queued call.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from ivr.store import Store

log = logging.getLogger(__name__)

# store status -> what the caller hears
SPOKEN_STATUS = {
    "draft": "已受理，正在登记",
    "open": "已受理，正在处理中",
    "dispatched": "已派单至{unit}，正在办理",
    "closed": "已办结",
}
_TICKET_FIELDS = ("category", "address", "description", "urgency")


def split_category(value: str) -> dict[str, str]:
    """'城市管理/市容环境/占道经营' -> category1..3 (fewer levels are fine)."""
    parts = [p.strip() for p in value.replace("＞", "/").replace(">", "/").split("/") if p.strip()][:3]
    return {f"category{i + 1}": p for i, p in enumerate(parts)}


def pop_context(flow: str, request_context: Mapping[str, Any], priority: int) -> dict[str, Any]:
    """The flow's queue context in the shape the screen pop shows."""
    variables: Mapping[str, Any] = request_context.get("variables", {})
    hidden = {"queue", "queue_outcome", "caller"}
    return {
        "flow": flow,
        "path": list(request_context.get("flow_path", [])),
        "choices": {k: v for k, v in variables.items() if k not in hidden},
        "transcript": list(request_context.get("transcript", [])),
        "category": str(variables.get("category", "")),
        "urgency": "urgent" if priority > 0 or variables.get("category") == "紧急求助" else "normal",
        "address": str(variables.get("address", "")),
        "description": str(variables.get("description", "")),
    }


class TicketDesk:
    """The flow's TicketSink and TicketLookup over the store."""

    def __init__(self, store: Store):
        self.store = store

    async def create(self, fields: Mapping[str, Any]) -> str:
        values: dict[str, Any] = {}
        category = str(fields.get("category", "") or "")
        if category:
            values.update(split_category(category))
        for name in ("address", "description"):
            if fields.get(name):
                values[name] = str(fields[name])
        if fields.get("urgency") in ("normal", "urgent"):
            values["urgency"] = fields["urgency"]
        extra = {k: v for k, v in fields.items() if k not in (*_TICKET_FIELDS, "caller", "call_id")}
        ticket = await self.store.tickets.create(
            str(fields.get("caller", "")),
            channel="ivr",
            call_id=str(fields.get("call_id", "")),
            status="open",
            context=extra,
            **values,
        )
        log.info("self-service ticket %s created for %s", ticket.id, ticket.caller)
        return ticket.id

    async def status(self, ticket_id: str) -> str | None:
        ticket = await self.store.tickets.get(ticket_id.strip())
        if ticket is None:
            return None
        spoken = SPOKEN_STATUS.get(ticket.status, "正在处理中")
        return spoken.format(unit=ticket.unit or "责任单位")

    async def save_survey(self, ticket_id: str, answers: Mapping[str, Any]) -> None:
        await self.store.tickets.set_survey(ticket_id, dict(answers))

    async def link_recording(self, ticket_id: str, recording: str, seat: str) -> None:
        ticket = await self.store.tickets.get(ticket_id)
        if ticket is None or not recording:
            return
        recordings: Sequence[str] = list(ticket.context.get("recordings", []))
        context = {**ticket.context, "recordings": [*recordings, recording]}
        await self.store.tickets.update(ticket_id, {"context": context}, actor=f"seat:{seat}")
