"""Menu and input dialogues, with VoiceXML-style error handling.

No-input and no-match are counted separately; the n-th error of a kind plays that kind's n-th
message (the last one repeats) and then the shorter `reprompt`. Either count reaching its limit,
or both together reaching `max_failures`, leaves through `on_failure`.
"""

from __future__ import annotations

import re

from ivr.control import DigitSpec, Heard, SpeechSpec
from ivr.flow import model as m
from ivr.flow.dialogue import Dialogue, match, nth
from ivr.flow.intents import by_intent, uses_intents
from ivr.flow.phrases import normalise
from ivr.understanding import URGENT


async def ask_menu(it: Dialogue, flow: m.Flow, node: m.Menu, pending: str | None) -> str | None:
    options = list(node.options) + (list(flow.global_options) if node.global_options else [])
    grammar = tuple(dict.fromkeys(g for o in options for g in o.grammar))
    # Only a menu whose own options name intents understands sentences (a global 紧急 option does
    # not turn "继续等待请按1" into a question about intents); any menu still catches urgency.
    step = it.understander if uses_intents(node.options) else None
    urgent = next((o for o in options if o.intent == URGENT), None) if it.understander else None
    speech = (
        # A menu that understands callers hears whole sentences (free-form), not just its phrases.
        SpeechSpec(phrases=None, timeout=node.timeout, max_seconds=20.0, min_confidence=node.min_confidence)
        if step is not None
        else SpeechSpec(phrases=grammar, timeout=node.timeout, min_confidence=node.min_confidence)
        if grammar
        else None
    )
    keys = any(o.key for o in options)
    digits = DigitSpec(max_digits=1, first_timeout=node.timeout, terminator=None) if keys else None
    noinput = nomatch = 0
    lead: m.Prompt = ()
    retry = False
    while True:
        if pending:  # pressed while an earlier prompt was playing (barge-in)
            heard, pending = Heard("dtmf", pending), None
        else:
            body = node.reprompt if retry and node.reprompt else node.prompt
            prompts = it.prompts((*lead, *body))
            heard = await it.control.ask(prompts, digits=digits, speech=speech, barge_in=node.barge_in)
        it.heard(heard)
        if heard.kind == "noinput":
            noinput += 1
        else:
            if step is not None and heard.kind == "speech" and heard.confidence >= node.min_confidence:
                opt = match(heard, options, node.min_confidence, contained=False)
                if opt is None and normalise(heard.value.replace("[unk]", "")):
                    opt = await by_intent(it, step, node, options, heard.value)
                    if opt is None:  # still unclear after asking: an operator, not "选择无效"
                        it.vars["failed_menu"] = node.id
                        return node.on_failure or node.next or flow.after(node.id)
            else:
                opt = match(heard, options, node.min_confidence)
                if opt is None and urgent is not None and heard.kind == "speech" and it.understander:
                    u = it.understander.understand(heard.value)
                    if u.urgent:
                        it.understood(u)
                        opt = urgent
            if opt is not None and opt.repeat:
                lead, retry = (), False
                continue
            if opt is not None:
                for name, value in opt.set_vars.items():
                    it.vars[name] = it.text(value) if isinstance(value, str) else value
                it.vars["last_menu"] = node.id
                return opt.target
            nomatch += 1
        if (
            noinput >= node.max_noinput
            or nomatch >= node.max_nomatch
            or noinput + nomatch >= node.max_failures
        ):
            it.vars["failed_menu"] = node.id
            return node.on_failure or node.next or flow.after(node.id)
        lead = nth(node.noinput, noinput) if heard.kind == "noinput" else nth(node.nomatch, nomatch)
        retry = True


def entry(node: m.Input, heard: Heard) -> str:
    """The caller's entry as the variable will hold it."""
    if heard.kind == "speech":
        return normalise(heard.value.replace("[unk]", ""))
    value = heard.value
    if node.terminator and value.endswith(node.terminator):
        value = value[: -len(node.terminator)]
    if node.format == "id_card":
        value = value.replace("*", "X")  # 最后一位是X请按*号键
    return value


def valid(node: m.Input, value: str) -> bool:
    if not value:
        return False
    if node.format != "speech" and not (node.min_digits <= len(value) <= node.max_digits):
        return False
    return node.pattern is None or re.fullmatch(node.pattern, value) is not None


async def ask_input(it: Dialogue, node: m.Input, fall: str | None) -> str | None:
    by_voice = node.format == "speech"
    digits = (
        None if by_voice else DigitSpec(node.max_digits, node.timeout, node.inter_timeout, node.terminator)
    )
    speech = SpeechSpec(phrases=None, timeout=node.timeout, max_seconds=20.0) if by_voice else None
    noinput = nomatch = 0
    lead: m.Prompt = ()
    while noinput + nomatch < node.max_failures:
        body = node.reprompt if (noinput or nomatch) and node.reprompt else node.prompt
        heard = await it.control.ask(
            it.prompts((*lead, *body)), digits=digits, speech=speech, barge_in=node.barge_in
        )
        it.heard(heard)
        value = entry(node, heard)
        if heard.kind == "noinput" or not value:
            noinput += 1
            lead = nth(node.noinput, noinput)
            continue
        if not valid(node, value):
            nomatch += 1
            lead = nth(node.nomatch, nomatch)
            continue
        if node.confirm:
            yes = DigitSpec(max_digits=1, first_timeout=node.timeout, terminator=None)
            answer = await it.control.ask(it.prompts(node.confirm, {"value": value}), digits=yes)
            it.heard(answer)
            if not (answer.kind == "dtmf" and answer.value[:1] == "1"):
                nomatch += 1  # a re-entry counts, so a caller cannot loop here forever
                lead = ()
                continue
        it.vars[node.var] = value
        return fall
    it.vars["failed_input"] = node.id
    return node.on_failure or fall
