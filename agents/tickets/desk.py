"""Tickets as the voice menus see them: self-service tickets from a flow's `ticket` node, the
progress a caller hears for 查询工单进度, and survey answers (the flows' TicketSink and TicketLookup).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ivr.records import category_path
from ivr.store import Store

log = logging.getLogger(__name__)

# store status -> what the caller hears
SPOKEN_STATUS = {
    "draft": "已受理，正在登记",
    "open": "已受理，正在处理中",
    "dispatched": "已派单至{unit}，正在办理",
    "accepted": "{unit}已接单，正在办理",
    "returned": "正在重新派单",
    "replied": "{unit}已答复，我们将进行回访",
    "reopened": "已交{unit}重新办理",
    "closed": "已办结",
}
_TICKET_FIELDS = ("category", "address", "description", "urgency")


class TicketDesk:
    """The flow's TicketSink and TicketLookup over the store."""

    def __init__(self, store: Store):
        self.store = store

    async def create(self, fields: Mapping[str, Any]) -> str:
        values: dict[str, Any] = {}
        category = category_path(str(fields.get("category", "") or ""))
        values.update({f"category{i + 1}": level for i, level in enumerate(category) if level})
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
