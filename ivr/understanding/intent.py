"""The caller's intent: a naive Bayes model trained when the admins' file loads, plus keywords.

Why this method: the admins' examples are few (tens per intent) and change with a file save, so
the model must train in milliseconds and explain itself. Multinomial naive Bayes over jieba
words and character pairs does both: training is counting, and each word's log-likelihood ratio
says how much it pushed the decision ("the words that decided it"). Keywords the admins list
(投诉, 举报, 怎么办理 ...) add fixed evidence on top, so a centre can correct the model by adding
a word instead of collecting sentences. Priors are uniform: the number of examples an admin
wrote for an intent says nothing about how often citizens call for it; the centre says that
with `share` (a citizen describing a problem without asking for anything is most often
complaining, so 投诉 has a larger share).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ivr.understanding.lexicon import UNCLEAR, Intent
from ivr.understanding.words import clean, features

ALPHA = 0.3  # Laplace smoothing
KEYWORD_WEIGHT = 1.6  # evidence of one keyword, in the same units as the model's mean log ratio
MODEL_WEIGHT = 3.0  # scales the model's per-feature mean log-likelihood
KEYWORD_COPIES = 3  # a keyword counts as that many example occurrences when training
NEGATIONS = "不没别"
EVIDENCE_WORDS = 3  # known words needed before the model alone is fully believed


@dataclass(frozen=True)
class IntentGuess:
    intent: str  # UNCLEAR when nothing points anywhere
    confidence: float  # the softmax share of the winner
    words: tuple[str, ...]  # keywords found, then the model's strongest words
    scores: tuple[tuple[str, float], ...]  # every intent's share, best first


class IntentModel:
    def __init__(self, intents: Sequence[Intent]) -> None:
        self.intents = tuple(intents)
        self.names = tuple(i.name for i in intents)
        counts: dict[str, Counter[str]] = {}
        for intent in intents:
            c: Counter[str] = Counter()
            for example in intent.examples:
                c.update(features(example))
            for kw in intent.keywords:
                for _ in range(KEYWORD_COPIES):
                    c.update(features(kw))
            counts[intent.name] = c
        self.vocabulary = set().union(*counts.values()) if counts else set()
        v = len(self.vocabulary) or 1
        # Every intent gets the same probability mass (the largest intent's count): otherwise an
        # intent with few examples has a larger share for unseen words and wins on vague sentences.
        mass = max((sum(c.values()) for c in counts.values()), default=1) or 1
        self.logp: dict[str, dict[str, float]] = {}
        self.unseen = math.log(ALPHA / (mass + ALPHA * v))
        for name, c in counts.items():
            scale = mass / (sum(c.values()) or 1)
            self.logp[name] = {f: math.log((n * scale + ALPHA) / (mass + ALPHA * v)) for f, n in c.items()}

    def _loglik(self, name: str, feature: str) -> float:
        return self.logp[name].get(feature, self.unseen)

    def guess(self, text: str) -> IntentGuess:
        said = clean(text)
        feats = [f for f in features(text) if f in self.vocabulary]
        scores: dict[str, float] = {}
        found: dict[str, list[str]] = {}
        for intent in self.intents:
            model = sum(self._loglik(intent.name, f) for f in feats) / len(feats) if feats else 0.0
            hits = _keywords_in(said, intent.keywords)
            found[intent.name] = hits
            prior = math.log(intent.share) if intent.share > 0 else -50.0
            scores[intent.name] = MODEL_WEIGHT * model + KEYWORD_WEIGHT * len(hits) + prior
        if not scores or (not feats and not any(found.values())):
            return IntentGuess(UNCLEAR, 0.0, (), ())
        # Mean log-likelihoods differ by a constant across intents; softmax only sees differences.
        top = max(scores.values())
        exp = {n: math.exp(s - top) for n, s in scores.items()}
        total = sum(exp.values())
        shares = sorted(((n, e / total) for n, e in exp.items()), key=lambda x: -x[1])
        best, share = shares[0]
        if not found[best]:
            # No keyword: the model alone, on a couple of known words ("我想说个事"), is a guess.
            known = len({f for f in feats if not f.startswith("~")})
            share *= min(1.0, known / EVIDENCE_WORDS)
        words = tuple(dict.fromkeys((*found[best], *self._deciding(best, shares, feats))))
        return IntentGuess(best, share, words, tuple(shares))

    def _deciding(
        self, best: str, shares: Sequence[tuple[str, float]], feats: Sequence[str]
    ) -> tuple[str, ...]:
        """The words (not character pairs) that favour `best` most over the runner-up."""
        if len(shares) < 2:
            return ()
        second = shares[1][0]
        ranked = sorted(
            {f for f in feats if not f.startswith("~")},
            key=lambda f: self._loglik(second, f) - self._loglik(best, f),
        )
        return tuple(f for f in ranked[:3] if self._loglik(best, f) > self._loglik(second, f))


def _keywords_in(said: str, keywords: Sequence[str]) -> list[str]:
    """Keywords found in the sentence; a keyword inside a longer one found counts once."""
    hits = [k for k in sorted(keywords, key=len, reverse=True) if _affirmed(k, said)]
    return [k for i, k in enumerate(hits) if not any(k in longer for longer in hits[:i])]


def _affirmed(keyword: str, said: str) -> bool:
    """`keyword` is in the sentence at least once not right after 不/没 ("不负责" praises nobody)."""
    start = said.find(keyword)
    while start >= 0:
        if start == 0 or said[start - 1] not in NEGATIONS or keyword[0] in NEGATIONS:
            return True
        start = said.find(keyword, start + 1)
    return False
