"""Segmenting a caller's sentence into features: jieba words plus character pairs.

jieba (its dictionary ships in the wheel; nothing is downloaded) is initialised once per process,
on first use, about 0.9 s; the admins' keywords are added to its dictionary so that "油烟" or
"燃气泄漏" stay one word. Character pairs keep some evidence when recognition has garbled a word:
"燃汽泄漏" still shares 泄漏 with "燃气泄漏".
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
from collections.abc import Iterable

import jieba

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None
_added: set[str] = set()
_CJK = re.compile(r"[\u4e00-\u9fff]")
_KEEP = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")
# Fillers and particles: frequent in callers' speech and evidence of nothing.
STOP = frozenset(
    "的 了 吗 呢 吧 啊 呀 嘛 哦 嗯 呃 那个 这个 就是 然后 我 你 他 她 它 我们 你们 他们 是 在 有 "
    "也 都 就 还 又 和 跟 与 一下 一个 那 这 个 给 说 哎 喂 哈 啦 "
    "么 么样 着 过 得 地 很 太 挺 呗 额 唉".split()
)


def tokenizer() -> jieba.Tokenizer:
    """The process's one jieba tokenizer (thread-safe to create; `lcut` is read-only after)."""
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            jieba.setLogLevel(logging.WARNING)
            tok = jieba.Tokenizer()
            tok.initialize()
            _tokenizer = tok
        return _tokenizer


def add_words(words: Iterable[str]) -> None:
    """Make the admins' keywords single words for the segmenter (kept for the process)."""
    tok = tokenizer()
    with _lock:
        for w in words:
            if len(w) >= 2 and w not in _added and _CJK.search(w):
                tok.add_word(w, freq=20000)
                _added.add(w)


def clean(text: str) -> str:
    """The text without recognition markers or spaces (Vosk separates words with spaces)."""
    return re.sub(r"\s+", "", text.replace("[unk]", ""))


def tokens(text: str) -> list[str]:
    """Content words of `text`, in order."""
    return [w for w in tokenizer().lcut(clean(text)) if _KEEP.search(w) and w not in STOP]


def features(text: str) -> list[str]:
    """Words and character pairs (pairs prefixed with '~' so they never collide with a word)."""
    chars = [ch for ch in clean(text) if _CJK.match(ch)]
    pairs = ["~" + a + b for a, b in itertools.pairwise(chars)]
    return tokens(text) + pairs
