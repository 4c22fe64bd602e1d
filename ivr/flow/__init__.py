"""Voice-menu flows: YAML language, checker, hot-reloading library, interpreter and simulator.

Wiring for the server: `FlowLibrary` (load once, `await watch()` in a task), then per call
`snapshot, entry = library.flow_for(dialled)` and `await Interpreter(snapshot, leg, services).run(entry)`.
"""

from ivr.flow.conditions import QueueState
from ivr.flow.interpreter import FlowResult, Interpreter, Step, Utterance
from ivr.flow.library import FlowLibrary, Rejected, ReloadReport
from ivr.flow.model import Flow, FlowSet, Problem
from ivr.flow.services import FlowServices, TicketLookup, TicketSink

__all__ = [
    "Flow",
    "FlowLibrary",
    "FlowResult",
    "FlowServices",
    "FlowSet",
    "Interpreter",
    "Problem",
    "QueueState",
    "Rejected",
    "ReloadReport",
    "Step",
    "TicketLookup",
    "TicketSink",
    "Utterance",
]
