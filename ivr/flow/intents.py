"""Menu options chosen by what the caller means (`intent: 投诉`), through the understanding step.

A menu whose own options name intents listens free-form (menus.py; other menus only catch
urgency). A whole-phrase match still wins (a caller who says
"投诉" gets 投诉); otherwise the sentence goes to the understanding step:

- urgent (gas, fire, someone unconscious ...): the `intent: 紧急` option at once, never a loop;
- a clear intent (confidence >= accept): its option;
- a likely one (>= confirm): "您是要投诉，对吗？", yes takes it;
- otherwise, or on "no": one clarifying question, understood together with the first sentence;
- still unsure: `None`, and the menu hands the caller to its `on_failure` (an operator).

A sentence is never answered with "选择无效": that message is for keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ivr.control import DigitSpec, Heard, SpeechSpec
from ivr.flow import model as m
from ivr.flow.dialogue import Dialogue, match
from ivr.flow.phrases import normalise
from ivr.records import Understanding
from ivr.understanding import UNCLEAR, URGENT, Understander, load

UNDERSTANDING_FILE = "understanding.yaml"  # beside the flows; not a flow itself

YES = ("对", "是", "嗯", "好", "行", "没错", "可以", "要")
NO = ("不", "没", "错", "别")


def load_understanding(
    path: Path, taxonomy: Path | None = None
) -> tuple[Understander | None, list[m.Problem]]:
    """The admins' understanding file as a step over the centre's taxonomy (None: the shipped
    one), with its findings as flow problems."""
    step, findings = load(path) if taxonomy is None else load(path, taxonomy)
    problems = [m.Problem(f.file, m.Pos(f.line, f.col), f.message, "error") for f in findings]
    return step, problems


def uses_intents(options: Sequence[m.Option]) -> bool:
    return any(o.intent for o in options)


def yes(heard: Heard) -> bool | None:
    """The caller's answer to a yes/no question: key 1 or 2, or words; None when neither."""
    if heard.kind == "dtmf":
        return {"1": True, "2": False}.get(heard.value[:1])
    said = normalise(heard.value.replace("[unk]", ""))
    if not said:
        return None
    if any(w in said for w in NO):
        return False
    return True if any(w in said for w in YES) else None


def _pick(u: Understanding, options: Sequence[m.Option], floor: float) -> m.Option | None:
    by = {o.intent: o for o in options if o.intent}
    if u.urgent and URGENT in by:
        return by[URGENT]
    if u.intent != UNCLEAR and u.confidence >= floor:
        return by.get(u.intent)
    return None


async def by_intent(
    it: Dialogue, step: Understander, node: m.Menu, options: Sequence[m.Option], text: str
) -> m.Option | None:
    """The option the caller's sentence means, after at most one confirmation or one
    clarifying question; None: still unclear, hand over to an operator."""
    lexicon = step.lexicon
    u = step.understand(text)
    it.understood(u)
    chosen = _pick(u, options, lexicon.accept)
    if chosen is not None:
        return chosen
    likely = _pick(u, options, lexicon.confirm)
    if likely is None and u.intent == UNCLEAR:
        # Nothing understood: a menu phrase said inside the sentence is the best evidence left.
        contained = match(Heard("speech", text), options)
        if contained is not None:
            return contained
    listen = SpeechSpec(phrases=None, timeout=node.timeout, max_seconds=20.0)
    keys = DigitSpec(max_digits=1, first_timeout=node.timeout, terminator=None)
    if likely is not None:
        prompt = (m.PromptPart(text=lexicon.confirm_prompt),)
        answer = await it.control.ask(it.prompts(prompt, {"intent": u.intent}), digits=keys, speech=listen)
        it.heard(answer)
        if yes(answer):
            return likely
    answer = await it.control.ask(
        it.prompts((m.PromptPart(text=lexicon.clarify_prompt),)), digits=keys, speech=listen
    )
    it.heard(answer)
    if answer.kind == "dtmf":
        return match(answer, options)
    if answer.kind != "speech" or not normalise(answer.value):
        return None
    exact = match(answer, options, contained=False)
    if exact is not None:
        return exact
    again = step.understand(f"{text}，{answer.value}")
    it.understood(again)
    return _pick(again, options, lexicon.confirm) or match(answer, options)
