"""Ranking the taxonomy's categories for what the caller said, with the responsible unit.

Evidence for a category: the admins' keywords for it (strongest, longer words count more), its
own third-level name in the sentence, the words of its names among the sentence's words, and,
weakest, character pairs shared with its names and keywords, weighted by how few categories
have them (so "公交" points at the bus categories even when no keyword matched, and a garbled
word still shares a pair). Explainable by construction: each category carries what scored it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ivr.understanding.taxonomy import Category, Taxonomy, fill_unit
from ivr.understanding.urgency import near
from ivr.understanding.words import clean, tokens

KEYWORD = 2.0
NAME = 2.5
NAME_WORD = 0.8
GROUP_WORD = 0.3
PAIR = 0.25  # per unit of inverse category frequency of a shared character pair
MIN_SCORE = 1.2  # below this a category is a guess from stray characters: not suggested


def _pairs(text: str) -> set[str]:
    chars = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
    return {a + b for a, b in itertools.pairwise(chars)}


@dataclass(frozen=True)
class Ranked:
    category: Category
    score: float
    words: tuple[str, ...]

    def unit(self, address: str) -> str:
        return fill_unit(self.category.unit, address) if self.category.unit else ""


class CategoryRanker:
    def __init__(self, taxonomy: Taxonomy, keywords: Mapping[str, Sequence[str]]) -> None:
        self.taxonomy = taxonomy
        self.paths = [(item, item.path) for item in taxonomy.items]
        self.keywords = {item.path: tuple(keywords.get(item.path, ())) for item in taxonomy.items}
        self.name_words = {
            item.path: (
                {w for w in tokens(item.levels[2]) if len(w) >= 2},
                {w for w in tokens(item.levels[1]) if len(w) >= 2},
            )
            for item in taxonomy.items
        }
        self.pairs = {
            item.path: set().union(*(_pairs(t) for t in (*item.levels[1:], *self.keywords[item.path])))
            for item in taxonomy.items
        }
        df: dict[str, int] = {}
        for ps in self.pairs.values():
            for p in ps:
                df[p] = df.get(p, 0) + 1
        n = len(taxonomy.items) or 1
        self.idf = {p: math.log(n / c) for p, c in df.items()}

    def rank(self, text: str, limit: int = 3) -> list[Ranked]:
        said = clean(text)
        words = set(tokens(text))
        pairs = _pairs(said) & set(self.idf)
        ranked: list[tuple[float, int, Ranked]] = []
        for i, (item, path) in enumerate(self.paths):
            score, why = 0.0, []
            for kw in self.keywords[path]:
                if kw in said or (len(kw) >= 4 and near(kw, said)):
                    score += KEYWORD + 0.25 * min(len(kw), 6)
                    why.append(kw)
            if item.levels[2] in said:
                score += NAME
                why.append(item.levels[2])
            own, group = self.name_words[path]
            for w in sorted(own & words):
                score += NAME_WORD
                why.append(w)
            score += GROUP_WORD * len(group & words)
            shared = pairs & self.pairs[path]
            score += PAIR * sum(self.idf[p] for p in shared)
            if score >= MIN_SCORE:
                ranked.append((score, -i, Ranked(item, score, tuple(dict.fromkeys(why)))))
        ranked.sort(key=lambda r: (r[0], r[1]), reverse=True)
        return [r for _, _, r in ranked[:limit]]
