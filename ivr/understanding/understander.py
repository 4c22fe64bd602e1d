"""The understanding step: a caller's free-form sentence -> `Understanding`.

It sits between recognition and the menu. Everything it decides it also explains in `reasons`
and in one log line per sentence, so an admin can see why a caller went where they went. It is
pure CPU on short text (about 2 ms a sentence once jieba is loaded, see bench/understanding.py),
so the flow calls it on the event loop.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ivr.records import Understanding
from ivr.understanding.categories import CategoryRanker
from ivr.understanding.intent import IntentModel
from ivr.understanding.lexicon import UNCLEAR, Finding, Lexicon
from ivr.understanding.lexicon import load as load_lexicon
from ivr.understanding.numbers import numbers_in
from ivr.understanding.place import place_in
from ivr.understanding.taxonomy import DEFAULT_CSV, Taxonomy, TaxonomyError
from ivr.understanding.urgency import urgent_words
from ivr.understanding.words import add_words

log = logging.getLogger("ivr.understanding")
URGENT_INTENT = "求助"  # what an urgent caller wants, unless they say they complain
COMPLAINT_WORDS = ("投诉", "举报")


class Understander:
    """Built once per version of the admins' file; `understand` is then read-only and cheap."""

    def __init__(self, lexicon: Lexicon, taxonomy: Taxonomy) -> None:
        self.lexicon = lexicon
        self.taxonomy = taxonomy
        add_words(
            [
                *(k for i in lexicon.intents for k in i.keywords),
                *lexicon.urgent_words,
                *(k for ks in lexicon.categories.values() for k in ks),
                *lexicon.districts,
                *lexicon.areas,
            ]
        )
        self.intents = IntentModel(lexicon.intents)
        self.categories = CategoryRanker(taxonomy, lexicon.categories)

    def understand(self, text: str) -> Understanding:
        reasons: list[str] = []
        guess = self.intents.guess(text)
        intent, confidence = guess.intent, guess.confidence
        if intent != UNCLEAR and confidence < self.lexicon.confirm:
            reasons.append(f"intent unclear: best {intent} at {confidence:.2f} < {self.lexicon.confirm}")
            intent = UNCLEAR
        elif intent != UNCLEAR:
            reasons.append(f"intent {intent} {confidence:.2f}: {'、'.join(guess.words) or '(model)'}")
        else:
            reasons.append("intent unclear: no word of any intent")
        urgent = urgent_words(text, self.lexicon)
        if urgent:
            reasons.append(f"urgent: {'、'.join(urgent)}")
            if not any(w in text for w in COMPLAINT_WORDS):
                if intent != URGENT_INTENT:
                    reasons.append(f"urgent caller taken as {URGENT_INTENT}")
                intent, confidence = URGENT_INTENT, max(confidence, self.lexicon.accept)
        place = place_in(text, self.lexicon.districts, self.lexicon.areas)
        address = "".join(place.get(k, "") for k in ("district", "street", "road", "compound"))
        if place:
            reasons.append("place: " + "、".join(f"{k}={v}" for k, v in place.items()))
        ranked = self.categories.rank(text)
        for r in ranked:
            reasons.append(f"category {r.category.path}: {'、'.join(r.words)}")
        numbers = numbers_in(text)
        if numbers:
            reasons.append("numbers: " + "、".join(f"{k}={v}" for k, v in numbers.items()))
        result = Understanding(
            text=text,
            intent=intent,
            confidence=confidence,
            intent_words=guess.words if intent == guess.intent else (),
            urgent=bool(urgent),
            urgent_words=urgent,
            categories=tuple(r.category.path for r in ranked),
            units=tuple(r.unit(address) for r in ranked),
            place=place,
            numbers=numbers,
            reasons=tuple(reasons),
        )
        log.info("understood %r -> %s%s; %s", text, intent, " URGENT" if urgent else "", "; ".join(reasons))
        return result


def load(path: Path, taxonomy_csv: Path = DEFAULT_CSV) -> tuple[Understander | None, list[Finding]]:
    """The step the admins' file describes, or the findings that keep it from loading."""
    try:
        taxonomy = Taxonomy.load(taxonomy_csv)
    except (OSError, TaxonomyError) as exc:
        return None, [Finding(str(taxonomy_csv), 1, 1, f"taxonomy: {exc}")]
    lexicon, findings = load_lexicon(path, {item.path: item for item in taxonomy.items})
    if lexicon is None:
        return None, findings
    return Understander(lexicon, taxonomy), findings
