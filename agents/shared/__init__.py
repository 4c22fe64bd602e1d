"""One queue for all nodes of a centre: waiting callers and seat states in PostgreSQL
(`SharedAcd`); the single-node line keeps the in-memory `agents.acd.Acd`. `AnyAcd` is either,
for the parts (consoles, board, flows) that serve both."""

from agents.acd import Acd
from agents.shared.acd import SharedAcd
from agents.shared.leases import Lost

AnyAcd = Acd | SharedAcd

__all__ = ["AnyAcd", "Lost", "SharedAcd"]
