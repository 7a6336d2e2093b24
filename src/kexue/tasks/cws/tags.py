"""Word segmentation as per-character tagging, BMES: B(egin), M(iddle), E(nd) of a multi-character
word, S(ingle-character word)."""

from __future__ import annotations

from collections.abc import Sequence

TAGS = "BMES"
TAG_ID = {t: i for i, t in enumerate(TAGS)}


def words_to_tags(words: Sequence[str]) -> str:
    """["迈向", "充满", "希望"] -> "BEBEBE"; empty words are an error (they have no characters to tag)."""
    out = []
    for w in words:
        if not w:
            raise ValueError(f"empty word in {list(words)!r}")
        out.append("S" if len(w) == 1 else "B" + "M" * (len(w) - 2) + "E")
    return "".join(out)


def tags_to_words(chars: str, tags: Sequence[str] | str) -> list[str]:
    """Cut `chars` where `tags` say a word ends. Lenient, as a decoder must be: a word ends after E
    or S, and a new word starts at B or S even if the previous word never saw its E."""
    if len(chars) != len(tags):
        raise ValueError(f"{len(chars)} characters but {len(tags)} tags")
    words, start = [], 0
    for i, t in enumerate(tags):
        if t in "BS" and i > start:
            words.append(chars[start:i])
            start = i
        if t in "ES":
            words.append(chars[start : i + 1])
            start = i + 1
    if start < len(chars):
        words.append(chars[start:])
    return words
