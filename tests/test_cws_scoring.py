"""BMES tags and the SIGHAN-style scorer on hand-made cases."""

from __future__ import annotations

import pytest

from kexue.tasks.cws.score import score
from kexue.tasks.cws.tags import tags_to_words, words_to_tags


@pytest.mark.parametrize("words", [["迈向", "充满", "希望", "的", "新", "世纪"], ["中华人民共和国"], ["a"], ["１２月", "，", "ABC", "的"]])
def test_words_tags_words_round_trip(words):
    tags = words_to_tags(words)
    assert len(tags) == len("".join(words))
    assert tags_to_words("".join(words), tags) == words


def test_tags_are_bmes():
    assert words_to_tags(["中国", "人", "共和国"]) == "BESBME"


def test_decoding_is_lenient_with_broken_tag_sequences():
    # B without E before the next B: the open word is closed; a trailing open word is kept
    assert tags_to_words("abcde", "BBMES") == ["a", "bcd", "e"]
    assert tags_to_words("abc", "SBM") == ["a", "bc"]
    assert tags_to_words("", "") == []
    with pytest.raises(ValueError, match="3 characters but 2 tags"):
        tags_to_words("abc", "BE")


def test_scorer_gives_the_exact_numbers():
    gold = [["我们", "是", "中国", "人"], ["他", "来", "了"]]
    pred = [["我们", "是", "中", "国人"], ["他来", "了"]]
    # right: 我们, 是, 了 = 3; predicted 6 words; gold 7 words
    dictionary = {"我们", "是", "中国", "人", "他", "来"}  # "了" is out of vocabulary
    s = score(gold, pred, dictionary)
    assert (s.right_words, s.predicted_words, s.gold_words) == (3, 6, 7)
    assert s.precision == pytest.approx(3 / 6)
    assert s.recall == pytest.approx(3 / 7)
    assert s.f1 == pytest.approx(2 * (3 / 6) * (3 / 7) / (3 / 6 + 3 / 7))
    assert s.oov_recall == pytest.approx(1.0)  # the one OOV word, 了, is right
    assert s.iv_recall == pytest.approx(2 / 6)
    assert s.oov_rate == pytest.approx(1 / 7)


def test_scorer_perfect_and_mismatched_text():
    gold = [["一", "二三"]]
    assert score(gold, gold, set()).f1 == 1.0
    with pytest.raises(ValueError, match="differ at character 2"):
        score(gold, [["一", "二"]], set())
    with pytest.raises(ValueError, match="differ at character 0"):
        score(gold, [], set())


def test_lines_may_break_differently_as_in_the_msr_gold():
    # the MSR gold moves an opening quotation mark to the end of the previous line
    gold = [["修正", "。", "“"], ["远望", "号", "”"]]
    pred = [["修正", "。"], ["“", "远望", "号", "”"]]
    assert score(gold, pred, set()).f1 == 1.0
