"""The knowledge base operators read answers from (知识库): a YAML list of title, keywords and
answer, searched as the operator types."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_YAML = Path(__file__).resolve().parent / "data" / "knowledge.yaml"


class KnowledgeError(ValueError):
    pass


@dataclass(frozen=True)
class Article:
    id: int
    title: str
    keywords: tuple[str, ...]
    answer: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "keywords": list(self.keywords), "answer": self.answer}


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)} or {text}


class KnowledgeBase:
    def __init__(self, articles: Iterable[Article]) -> None:
        self.articles = list(articles)

    @classmethod
    def load(cls, path: Path = DEFAULT_YAML) -> KnowledgeBase:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        if not isinstance(raw, list):
            raise KnowledgeError(f"{path}: expected a list of articles")
        articles = []
        for n, item in enumerate(raw):
            if not isinstance(item, dict) or not item.get("title") or not item.get("answer"):
                raise KnowledgeError(f"{path}: article #{n + 1} needs a title and an answer")
            keywords = tuple(str(k) for k in item.get("keywords", []))
            articles.append(Article(n + 1, str(item["title"]), keywords, str(item["answer"])))
        return cls(articles)

    def search(self, query: str, limit: int = 5) -> list[Article]:
        """Keyword and title hits first, then shared character pairs with the answer text."""
        q = "".join(query.split())
        if not q:
            return []
        grams = _bigrams(q)
        scored: list[tuple[float, int, Article]] = []
        for a in self.articles:
            score = 0.0
            score += sum(6.0 for k in a.keywords if k in q or q in k)
            score += 4.0 if q in a.title else 0.0
            score += 2.0 * len(grams & _bigrams(a.title)) + 1.0 * len(grams & _bigrams(a.answer)) / 2
            if score > 0:
                scored.append((score, -a.id, a))
        scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
        return [a for _, _, a in scored[:limit]]
