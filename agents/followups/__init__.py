"""Follow-up calls (回访) after a unit's reply: the task rules (desk) and the line's calls
(caller). The SIP side that places a call and runs the follow-up flow is `ivr.sip.outcall`,
given to the caller by the composition root."""

from agents.followups.caller import FollowupCaller, FollowupLine
from agents.followups.desk import FollowupDesk, verdict

__all__ = ["FollowupCaller", "FollowupDesk", "FollowupLine", "verdict"]
