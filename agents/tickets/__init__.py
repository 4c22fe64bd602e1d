"""A ticket's (工单) life outside the console's own pages.

- drafted when the queue offers a caller to a seat, together with the screen pop (screenpop);
- created by a flow's self-service `ticket` node, read back to callers, surveyed (desk);
- edited by its operator over MQTT (agents.console) or HTTP (agents.web.desk);
- kept, with its full history, by the store (ivr.store.tickets).
"""

from agents.tickets.desk import TicketDesk
from agents.tickets.screenpop import ScreenPopper

__all__ = ["ScreenPopper", "TicketDesk"]
