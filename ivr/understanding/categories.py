"""Ranking the taxonomy's categories for what the caller said, with the responsible unit.

Evidence for a category: the admins' keywords for it (strongest, longer words count more), its
own third-level name in the sentence, and the words of its names among the sentence's words.
Explainable by construction: each category carries the words that scored it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ivr.understanding.taxonomy import Category, Taxonomy, fill_unit
from ivr.understanding.urgency import near
from ivr.understanding.words import clean, tokens

KEYWORD = 2.0
NAME = 2.5
NAME_WORD = 0.8
GROUP_WORD = 0.3


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
        self.keywords = {item.path: tuple(keywords.get(item.path, ())) for item in taxonomy.items}
        self.name_words = {
            item.path: (
                {w for w in tokens(item.levels[2]) if len(w) >= 2},
                {w for w in tokens(item.levels[1]) if len(w) >= 2},
            )
            for item in taxonomy.items
        }

    def rank(self, text: str, limit: int = 3) -> list[Ranked]:
        said = clean(text)
        words = set(tokens(text))
        ranked: list[tuple[float, int, Ranked]] = []
        for i, item in enumerate(self.taxonomy.items):
            score, why = 0.0, []
            for kw in self.keywords[item.path]:
                if kw in said or (len(kw) >= 4 and near(kw, said)):
                    score += KEYWORD + 0.25 * min(len(kw), 6)
                    why.append(kw)
            if item.levels[2] in said:
                score += NAME
                why.append(item.levels[2])
            own, group = self.name_words[item.path]
            for w in sorted(own & words):
                score += NAME_WORD
                why.append(w)
            score += GROUP_WORD * len(group & words)
            if score >= KEYWORD:  # a single stray name word is not evidence enough
                ranked.append((score, -i, Ranked(item, score, tuple(dict.fromkeys(why)))))
        ranked.sort(key=lambda r: (r[0], r[1]), reverse=True)
        return [r for _, _, r in ranked[:limit]]
