"""Measuring the understanding step on a labelled set of caller sentences, clean or with
recognition-like character noise. Used by `bench/understanding.py` (the figures in the README)
and by the tests (floors well below the figures, to catch regressions).

The set is a TSV file: text, intent, urgent (0/1), category ("一级/二级/三级" or empty), place
(names that must be found, separated by |, or empty); lines starting with # are comments.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ivr.records import Understanding


@dataclass(frozen=True)
class Sample:
    text: str
    intent: str
    urgent: bool
    category: str
    place: tuple[str, ...]
    line: int = 0


@dataclass(frozen=True)
class Figures:
    sentences: int
    intent_accuracy: float
    urgent_recall: float
    false_urgent_rate: float  # share of non-urgent sentences taken as urgent
    category_top3: float  # over sentences with a labelled category
    category_top1: float
    place_found: float  # every labelled name found, over sentences naming a place
    place_spurious: float  # a place reported for a sentence that names none
    unclear_rate: float

    def rows(self) -> list[tuple[str, str]]:
        """(label, figure) pairs in the README's order."""
        return [
            ("sentences", str(self.sentences)),
            ("intent accuracy", _pct(self.intent_accuracy)),
            ("urgent recall", _pct(self.urgent_recall)),
            ("false-urgent rate", _pct(self.false_urgent_rate)),
            ("category top-3 accuracy", _pct(self.category_top3)),
            ("category top-1 accuracy", _pct(self.category_top1)),
            ("place found", _pct(self.place_found)),
            ("place where none was said", _pct(self.place_spurious)),
            ("intent unclear", _pct(self.unclear_rate)),
        ]


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def read(path: Path) -> list[Sample]:
    """The labelled sentences of `path`; a malformed line raises ValueError naming it."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        f = line.split("\t")
        if len(f) != 5 or f[2] not in ("0", "1"):
            raise ValueError(f"{path}:{n}: expected text, intent, urgent 0/1, category, place")
        out.append(Sample(f[0], f[1], f[2] == "1", f[3], tuple(p for p in f[4].split("|") if p), n))
    return out


def place_ok(u: Understanding, names: Sequence[str]) -> bool:
    said = set(u.place.values())
    return all(any(n == v or n in v for v in said) for n in names)


def measure(pairs: Iterable[tuple[Sample, Understanding]]) -> Figures:
    pairs = list(pairs)
    urgent = [(s, u) for s, u in pairs if s.urgent]
    calm = [(s, u) for s, u in pairs if not s.urgent]
    cats = [(s, u) for s, u in pairs if s.category]
    placed = [(s, u) for s, u in pairs if s.place]
    unplaced = [(s, u) for s, u in pairs if not s.place]

    def share(
        items: Sequence[tuple[Sample, Understanding]], hit: Callable[[Sample, Understanding], bool]
    ) -> float:
        return sum(1 for s, u in items if hit(s, u)) / len(items) if items else 0.0

    return Figures(
        sentences=len(pairs),
        intent_accuracy=share(pairs, lambda s, u: u.intent == s.intent),
        urgent_recall=share(urgent, lambda s, u: u.urgent),
        false_urgent_rate=share(calm, lambda s, u: u.urgent),
        category_top3=share(cats, lambda s, u: s.category in u.categories[:3]),
        category_top1=share(cats, lambda s, u: u.categories[:1] == (s.category,)),
        place_found=share(placed, lambda s, u: place_ok(u, s.place)),
        place_spurious=share(unplaced, lambda s, u: bool(u.place)),
        unclear_rate=share(pairs, lambda s, u: u.intent == "unclear"),
    )


# Characters recognition puts in by mistake: frequent ones, as a recognizer's errors are.
_FILLER = (
    "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以"
    "会家可下而过天去能对小多然于心学么之都好看起发当没成只如事把还用第样道想作种开美"
    "总从无情己面最女但现前些所同日手又行意动"
)


def noisy(text: str, rate: float, rng: random.Random) -> str:
    """`text` with about `rate` of its characters substituted, deleted or followed by an inserted
    one (equal shares), the way a character error rate counts them. Punctuation is dropped first,
    as a recognizer gives none."""
    chars = [ch for ch in text if ch.isalnum()]
    out: list[str] = []
    for ch in chars:
        r = rng.random()
        if r < rate / 3:
            out.append(rng.choice(_FILLER))  # substitution
        elif r < 2 * rate / 3:
            continue  # deletion
        elif r < rate:
            out += [ch, rng.choice(_FILLER)]  # insertion
        else:
            out.append(ch)
    return "".join(out)
