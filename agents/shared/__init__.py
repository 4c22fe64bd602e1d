"""One queue for all nodes of a centre: waiting callers and seat states in PostgreSQL
(`SharedAcd`); the single-node line keeps the in-memory `agents.acd.Acd`."""

from agents.shared.acd import SharedAcd
from agents.shared.leases import Lost

__all__ = ["Lost", "SharedAcd"]
