"""Understanding what a caller said in their own words: intent, urgency, categories, place and
numbers, offline and with a reason for every decision (see understander.py).

`load(path)` reads the admins' `flows/understanding.yaml`; `Understander.understand(text)`
returns the `Understanding` record that the flow routes on and the call context carries.
"""

from ivr.understanding.hotspots import HotSpot, HotSpots
from ivr.understanding.lexicon import INTENTS, UNCLEAR, URGENT, Finding, Lexicon
from ivr.understanding.understander import Understander, load

__all__ = [
    "INTENTS",
    "UNCLEAR",
    "URGENT",
    "Finding",
    "HotSpot",
    "HotSpots",
    "Lexicon",
    "Understander",
    "load",
]
