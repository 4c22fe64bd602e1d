"""Urgency: risk to life, health or safety, decided by the admins' rules, never by the model.

A rule is a word (燃气泄漏, 晕倒, 胸口疼) or a combination whose groups must all be present
(老人 + 一个人 + 病; 孩子 + 锁在车里). A hit is dropped when its clause also holds an `unless`
word (隐患, 演练, 去年, 怎么申请): "电动车在楼道充电是火灾隐患" is a complaint, not a fire.
Words of four or more characters also match with one character wrong, because recognition
garbles exactly the rare words these are; an urgent caller missed costs far more than an
operator who hears "燃汽泄漏" first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ivr.understanding.lexicon import Lexicon
from ivr.understanding.words import clean

_CLAUSE = re.compile(r"[，。！？；,.!?;…]+")


def near(word: str, text: str) -> bool:
    """`word` is in `text`, or (four characters or more) is there with one character different.
    With one difference, one half of the word is intact: only places where a half occurs are
    compared (this runs for every keyword of every category on each sentence)."""
    if word in text:
        return True
    n = len(word)
    if n < 4:
        return False
    half = n // 2
    for part, offset in ((word[:half], 0), (word[half:], half)):
        at = text.find(part)
        while at >= 0:
            i = at - offset
            if (
                0 <= i <= len(text) - n
                and sum(a != b for a, b in zip(word, text[i : i + n], strict=True)) <= 1
            ):
                return True
            at = text.find(part, at + 1)
    return False


def _clauses(text: str) -> list[str]:
    return [c for c in (clean(p) for p in _CLAUSE.split(text)) if c]


def urgent_words(text: str, lexicon: Lexicon) -> tuple[str, ...]:
    """The rules that fired (a word, or "老人+一个人+病"); empty when the call is not urgent."""
    hits: list[str] = []
    for clause in _clauses(text):
        if any(u in clause for u in lexicon.urgent_unless):
            continue
        for word in lexicon.urgent_words:
            if word not in hits and near(word, clause):
                hits.append(word)
    # Combinations may span clauses ("我妈一个人在家，刚才摔了起不来"): test the whole call,
    # leaving out the clauses that an `unless` word cancels.
    live = "".join(c for c in _clauses(text) if not any(u in c for u in lexicon.urgent_unless))
    for groups in lexicon.urgent_together:
        found = [_first(live, g) for g in groups]
        if all(found):
            rule = "+".join(w for w in found if w)
            if rule not in hits:
                hits.append(rule)
    return tuple(hits)


def _first(text: str, words: Sequence[str]) -> str:
    return next((w for w in words if w in text), "")
