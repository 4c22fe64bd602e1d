from __future__ import annotations

from pathlib import Path

import pytest

from ivr.speech.grammar import (
    FileVocabulary,
    ModelVocabulary,
    Segmented,
    grammar_phrases,
    segment_phrase,
)


@pytest.fixture(scope="module")
def vocab(cn_words: Path) -> FileVocabulary:
    return FileVocabulary(cn_words)


def test_file_vocabulary_reads_first_column_and_skips_comments(vocab: FileVocabulary) -> None:
    assert "人工" in vocab  # "人工 2": id column
    assert "咨询" in vocab  # bare word
    assert "[unk]" in vocab
    assert "#" not in vocab and "Test" not in vocab
    assert "2" not in vocab
    assert "挂号" not in vocab
    assert len(vocab) > 300


@pytest.mark.parametrize(
    ("phrase", "words"),
    [
        ("人工服务", ("人工服务",)),  # one vocabulary word beats 人工 + 服务
        ("人工 服务", ("人工", "服务")),  # already segmented: kept as given
        ("投诉", ("投诉",)),  # not 投 + 诉
        ("咨询", ("咨询",)),
        ("燃气泄漏", ("燃气泄漏",)),
        ("燃气泄漏了怎么办", ("燃气泄漏", "了", "怎么办")),
        ("我要投诉", ("我要", "投诉")),
        ("非常不满意", ("非常", "不满意")),
        ("不是", ("不是",)),
        ("查询工单进度", ("查询", "工单", "进度")),
        ("救命！着火了", ("救命", "着火", "了")),
        ("幺二三四五", ("幺", "二", "三", "四", "五")),
        ("是。", ("是",)),
    ],
)
def test_segment_known_phrases(vocab: FileVocabulary, phrase: str, words: tuple[str, ...]) -> None:
    seg = segment_phrase(phrase, vocab)
    assert seg == Segmented(words=words, missing=())
    assert seg.ok
    assert seg.phrase == " ".join(words)


@pytest.mark.parametrize(
    ("phrase", "words", "missing"),
    [
        ("预约挂号", ("号",), ("预约挂",)),  # a run of uncovered characters is reported once
        ("我要预约", ("我要",), ("预约",)),
        ("燃气爆炸", ("燃气",), ("爆炸",)),
        ("人工 挂号", ("人工", "号"), ("挂",)),  # a spaced Chinese token is segmented too
        ("转2号线", ("转", "号"), ("2", "线")),  # digits are not words of this vocabulary
        ("hello", (), ("hello",)),
    ],
)
def test_segment_reports_missing(
    vocab: FileVocabulary, phrase: str, words: tuple[str, ...], missing: tuple[str, ...]
) -> None:
    seg = segment_phrase(phrase, vocab)
    assert seg.words == words
    assert seg.missing == missing
    assert not seg.ok


def test_segment_prefers_fewest_words() -> None:
    vocab = {"中华", "人民", "共和国", "中华人民共和国", "中", "华", "人", "民"}
    assert segment_phrase("中华人民共和国", vocab).words == ("中华人民共和国",)
    vocab.discard("中华人民共和国")
    assert segment_phrase("中华人民共和国", vocab).words == ("中华", "人民", "共和国")


def test_segment_caps_word_length_at_six_characters() -> None:
    seven, six = "一二三四五六七", "一二三四五六"
    assert segment_phrase("我" + seven, {"我", seven}) == Segmented(("我",), (seven,))
    assert segment_phrase("我" + six, {"我", six}) == Segmented(("我", six), ())
    assert segment_phrase(seven, {seven}).words == (seven,)  # a whole token is looked up as is


def test_space_separated_tokens_are_checked_one_by_one() -> None:
    korean = {"상담원", "연결", "예"}
    assert segment_phrase("상담원 연결", korean) == Segmented(("상담원", "연결"), ())
    assert segment_phrase("상담원  없는말", korean) == Segmented(("상담원",), ("없는말",))


def test_empty_phrase_is_not_ok(vocab: FileVocabulary) -> None:
    seg = segment_phrase(" ，。 ", vocab)
    assert seg == Segmented((), ())
    assert not seg.ok


class CountingModel:
    def __init__(self, words: dict[str, int]) -> None:
        self.words = words
        self.calls = 0

    def vosk_model_find_word(self, word: str) -> int:
        self.calls += 1
        return self.words.get(word, -1)


def test_model_vocabulary_asks_the_model_once_per_word() -> None:
    model = CountingModel({"人工": 5, "服务": 0})  # id 0 is a real word id, only -1 is unknown
    vocab = ModelVocabulary(model)
    assert "人工" in vocab and "服务" in vocab and "挂号" not in vocab
    assert "人工" in vocab and "挂号" not in vocab
    assert model.calls == 3


def test_grammar_phrases_adds_unk_only_when_known(vocab: FileVocabulary) -> None:
    assert grammar_phrases(["人工 服务", "投诉", "投诉"], vocab) == ["人工 服务", "投诉", "[unk]"]
    assert grammar_phrases(["상담원"], {"상담원"}) == ["상담원"]


def test_korean_model_vocabulary(ko_recognizer: object) -> None:
    from ivr.speech.asr import Recognizer

    assert isinstance(ko_recognizer, Recognizer)
    vocab = ko_recognizer.vocabulary
    assert "상담원" in vocab
    assert "[unk]" not in vocab  # this model lacks it (SPEECH.md)
    seg = segment_phrase("상담원 qqqzzz", vocab)
    assert seg.words == ("상담원",) and seg.missing == ("qqqzzz",)
