"""Speech phrases: what admins write, what the recogniser is given, and how answers are compared.

Vosk grammars need space-separated vocabulary words ("人工 服务"); admins write "人工服务".
Segmentation is `ivr.speech.grammar.segment_phrase`; recognised text is compared with options
after `normalise`, which drops the spaces and punctuation both sides may contain.
"""

from __future__ import annotations

import re
import unicodedata

from ivr.speech.grammar import FileVocabulary, Segmented, Vocabulary, segment_phrase

__all__ = ["Segmented", "Vocabulary", "load_words", "normalise", "segment", "tidy"]

_NOISE = re.compile(r"[\s\u3000，。、！？,.!?；;：:“”\"'（）()【】\[\]~～…-]+")


def normalise(text: str) -> str:
    """Comparable form of spoken text: NFKC, no spaces or punctuation, lower case."""
    return _NOISE.sub("", unicodedata.normalize("NFKC", text)).lower()


def tidy(phrase: str) -> str:
    """A phrase as the recogniser gets it without a model: NFKC, single spaces, no punctuation."""
    return " ".join(_NOISE.sub(" ", unicodedata.normalize("NFKC", phrase)).split())


def segment(phrase: str, vocab: Vocabulary) -> Segmented:
    """Split a phrase into vocabulary words; `missing` lists what the model lacks."""
    return segment_phrase(tidy(phrase), vocab)


def load_words(path: str) -> Vocabulary:
    """A vocabulary from a words file (Kaldi words.txt: one word per line, optional id column)."""
    return FileVocabulary(path)
