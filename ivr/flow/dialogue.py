"""What a menu needs from the running flow, and how a key or an utterance selects an option.

`Dialogue` is the narrow protocol the interpreter implements for menus (no import cycle);
`match` is shared by plain menus and by menus that understand callers (intents.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ivr.control import CallControl, Heard, Prompt
from ivr.flow import model as m
from ivr.flow.phrases import normalise
from ivr.records import Understanding
from ivr.understanding import Understander


class Dialogue(Protocol):
    """What a menu needs from the running flow (the interpreter): the call, the flow's
    variables it may set, prompts rendered with them, and a place to note what was heard."""

    control: CallControl
    vars: dict[str, Any]

    @property
    def understander(self) -> Understander | None:
        """The understanding step of the call's flow set (None: the admins' file is absent)."""
        ...

    def prompts(
        self, parts: Sequence[m.PromptPart], extra: dict[str, object] | None = None
    ) -> list[Prompt]: ...

    def text(self, template: str, extra: dict[str, object] | None = None) -> str: ...

    def heard(self, h: Heard) -> None: ...

    def understood(self, u: Understanding) -> None:
        """Note what the understanding step made of the caller's words (for the call context)."""
        ...


def nth(messages: Sequence[m.Prompt], count: int) -> m.Prompt:
    """The message for the count-th error (1-based); the last one repeats; none: silence."""
    return messages[min(count, len(messages)) - 1] if messages and count > 0 else ()


def match(
    heard: Heard, options: Sequence[m.Option], min_confidence: float = 0.0, *, contained: bool = True
) -> m.Option | None:
    """The option a key or utterance selects; exact phrases beat phrases found inside longer speech
    (`contained=False`: exact phrases only)."""
    if heard.kind == "dtmf":
        key = heard.value[:1]
        return next((o for o in options if o.key is not None and o.key == key), None)
    if heard.kind != "speech" or heard.confidence < min_confidence:
        return None
    said = normalise(heard.value.replace("[unk]", ""))
    if not said:
        return None
    for opt in options:
        if any(normalise(p) == said for p in (*opt.grammar, *opt.phrases)):
            return opt
    if not contained:
        return None
    # Free-form recognition returns whole sentences ("我要投诉一下"): take the longest phrase inside.
    best: tuple[int, m.Option | None] = (0, None)
    for opt in options:
        for p in opt.phrases:
            n = normalise(p)
            if n and n in said and len(n) > best[0]:
                best = (len(n), opt)
    return best[1]
