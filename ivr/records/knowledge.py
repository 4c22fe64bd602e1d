"""One version of a knowledge-base article (知识库): supervisors add, change and retire
articles; every version is kept, so what an operator read out on a day can be found again."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KnowledgeVersion:
    article: int  # the article's number, stable across versions
    version: int  # 1, 2, ... per article
    title: str
    keywords: tuple[str, ...]
    answer: str
    retired: bool
    actor: str  # "supervisor", "seed" (the shipped file)
    at: float
