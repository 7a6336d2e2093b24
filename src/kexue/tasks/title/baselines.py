"""The extractive baselines a generated title is measured against, scored like the model.

lead: the abstract's first clause, cut to the mean title length of the training split: what a title
looks like if one copies the start of the abstract.
oracle: the one sentence of the abstract with the best ROUGE-L against the gold title: an upper bound
for any method that copies a single sentence (it looks at the answer).
"""

from __future__ import annotations

import re

from kexue.tasks.title.rouge import rouge_one

# A full stop between two digits is a decimal point, not a sentence end (CSL abstracts use half-width
# "." and "," as often as "。" and "，").
SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|(?<=\.)(?!\d)")
CLAUSE_END = re.compile(r"[。！？；!?;，,：:]|(?<!\d)\.|\.(?!\d)")


def sentences(text: str) -> list[str]:
    """The abstract cut after each sentence end (。！？； and their half-width forms), blanks dropped."""
    return [s.strip() for s in SENTENCE_END.split(text) if s.strip()]


def first_clause(text: str) -> str:
    """The abstract up to its first clause mark (sentence ends, commas, colons), the mark excluded."""
    m = CLAUSE_END.search(text)
    return (text[: m.start()] if m else text).strip()


def lead(abstract: str, length: int) -> str:
    """The first clause, cut to `length` characters."""
    return first_clause(abstract)[: max(1, length)]


def oracle(abstract: str, title: str) -> str:
    """The sentence of `abstract` closest to `title` by ROUGE-L F1 (the first of equals)."""
    best, best_score = "", -1.0
    for sentence in sentences(abstract) or [abstract]:
        score = rouge_one(sentence, title)["rougeL"]
        if score > best_score:
            best, best_score = sentence, score
    return best
