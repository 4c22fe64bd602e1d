"""Turn menu phrases into Vosk grammar phrases: words the model knows, separated by spaces.

Vosk matches a grammar word for word against the model's vocabulary and silently drops
unknown words, so "人工服务" (one unknown token) can never match while "人工 服务" can. Flows
are segmented here when they are loaded, and every word the model lacks is reported then,
not discovered on a live call.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

MAX_WORD_CHARS = 6
UNK = "[unk]"


class Vocabulary(Protocol):
    def __contains__(self, word: str) -> bool: ...


class ModelVocabulary:
    """The vocabulary of a loaded `vosk.Model` (small models ship no words.txt; ask the model)."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self._known: dict[str, bool] = {}
        self._lock = threading.Lock()  # flows may be segmented from worker threads

    def __contains__(self, word: str) -> bool:
        with self._lock:
            hit = self._known.get(word)
            if hit is None:
                hit = self._model.vosk_model_find_word(word) != -1
                self._known[word] = hit
            return hit


class FileVocabulary:
    """A words.txt: one word per line, optionally followed by an id column (Kaldi's format)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        words: set[str] = set()
        with self.path.open(encoding="utf-8") as f:
            for line in f:
                fields = line.split()
                if fields and not fields[0].startswith("#"):
                    words.add(fields[0])
        self._words = frozenset(words)

    def __contains__(self, word: str) -> bool:
        return word in self._words

    def __len__(self) -> int:
        return len(self._words)


@dataclass(frozen=True)
class Segmented:
    """A phrase as vocabulary words, and the parts no vocabulary word covers."""

    words: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return bool(self.words) and not self.missing

    @property
    def phrase(self) -> str:
        """The grammar phrase Vosk wants: words separated by single spaces."""
        return " ".join(self.words)


def _is_han(ch: str) -> bool:
    return "CJK" in unicodedata.name(ch, "")


def _clean(phrase: str) -> list[str]:
    # Punctuation and symbols separate tokens; they are never words of a grammar.
    kept = "".join(ch if unicodedata.category(ch)[0] in "LNM" or ch == "'" else " " for ch in phrase)
    return kept.split()


def _segment_han(text: str, vocab: Vocabulary) -> tuple[list[str], list[str]]:
    """Fewest-words segmentation by dynamic programming; uncovered characters cost most.

    best[i] is the cheapest cover of text[:i] as (uncovered chars, words); an uncovered
    character is a one-character step, so every position is reachable.
    """
    n = len(text)
    inf = (n + 1, n + 1)
    best: list[tuple[int, int]] = [(0, 0)] + [inf] * n
    step: list[tuple[int, bool]] = [(0, True)] * (n + 1)  # (start of last piece, piece is a word)
    for i in range(1, n + 1):
        for j in range(max(0, i - MAX_WORD_CHARS), i):
            piece = text[j:i]
            known = piece in vocab
            if not known and i - j > 1:
                continue
            uncovered, count = best[j]
            cost = (uncovered + (0 if known else 1), count + 1)
            # Among equal covers prefer the longest last word (backward maximum matching).
            if cost < best[i] or (cost == best[i] and j < step[i][0]):
                best[i] = cost
                step[i] = (j, known)
    pieces: list[tuple[str, bool]] = []
    i = n
    while i > 0:
        j, known = step[i]
        pieces.append((text[j:i], known))
        i = j
    pieces.reverse()
    words: list[str] = []
    missing: list[str] = []
    run = ""  # consecutive uncovered characters are reported together ("挂号", not "挂", "号")
    for piece, known in pieces:
        if known:
            if run:
                missing.append(run)
                run = ""
            words.append(piece)
        else:
            run += piece
    if run:
        missing.append(run)
    return words, missing


def segment_phrase(phrase: str, vocab: Vocabulary) -> Segmented:
    """Split `phrase` into vocabulary words.

    Plain Chinese ("人工服务") is segmented into the fewest known words (up to 6 characters
    each); space-separated input ("상담원 연결", "人工 服务") is checked token by token, and a
    Chinese token the vocabulary lacks is segmented further. Whatever no word covers is in
    `missing`.
    """
    words: list[str] = []
    missing: list[str] = []
    for token in _clean(phrase):
        if token in vocab:
            words.append(token)
        elif any(_is_han(ch) for ch in token):
            # Mixed tokens ("A座") keep their non-Han runs as separate pieces.
            for part in re.findall(r"[^\W\d_a-zA-Z]+|[\da-zA-Z_']+", token):
                if part in vocab:
                    words.append(part)
                elif all(_is_han(ch) for ch in part):
                    w, m = _segment_han(part, vocab)
                    words += w
                    missing += m
                else:
                    missing.append(part)
        else:
            missing.append(token)
    return Segmented(tuple(words), tuple(missing))


def grammar_phrases(phrases: tuple[str, ...] | list[str], vocab: Vocabulary) -> list[str]:
    """The JSON list for `KaldiRecognizer`: known phrases, plus [unk] when the model has it.

    [unk] lets the grammar reject speech that is not on the menu; some models lack it, and
    Vosk then warns and drops it, so it is only added when present.
    """
    out = [p for p in dict.fromkeys(" ".join(p.split()) for p in phrases) if p]
    if UNK in vocab:
        out.append(UNK)
    return out
