"""Training questions made from raw text, the way the CMRC2017 training set was made.

A document (a list of sentences of words) gives questions from up to `questions_per_doc` of its
sentences, `per_sentence` from each (different words; 1 by default): one word of the sentence is
replaced by `XXXXX`, a word whose part of speech is in `answer_pos` and that occurs at least
`min_other_occurrences` times in the rest of the document; the sentence with its blank is the
query and stays in the document, as in the official files (all 2,000 cloze-valid documents hold
their query's blank). A fraction `unblanked_fraction` of the questions keep the sentence whole
in the document instead, answer included: that is the situation of the user questions (user-valid
documents hold the sentence the question asks about), where the model must find the sentence the
query matches. Choices are seeded per document, so the same seed and text give the same questions.

With `occurrence_power` a > 0 the sentences and words are drawn together instead, over the whole
document, a position with probability proportional to (its word's occurrences outside its sentence)
** a (Gumbel top-k, without replacement): the words a story is about get blanked more often, as in
the official sets (half of cloze-valid's answers occur 5+ times in the document; a = 0 gives 27% of the
default training answers, a = 2 gives 42%; measured at full size, no better: README).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

import numpy as np

from kexue.tasks.cloze.cmrc import BLANK, Question
from kexue.tasks.cloze.params import GenerateParams
from kexue.text.corpora import is_punctuation


class PartOfSpeech:
    """A word's part of speech: its tag in jieba's dictionary, else the tag jieba's HMM gives it
    (unknown names often come out as nr); remembered per word."""

    def __init__(self) -> None:
        import jieba.posseg

        self._posseg = jieba.posseg
        self._tags: dict[str, str] = {}

    def __call__(self, word: str) -> str:
        tag = self._tags.get(word)
        if tag is None:
            tag = self._posseg.dt.word_tag_tab.get(word)
            if tag is None:
                pieces = self._posseg.lcut(word)
                tag = pieces[0].flag if len(pieces) == 1 else "x"
            self._tags[word] = tag
        return tag


def chunk_documents(sentences: Iterable[list[str]], max_tokens: int, min_sentences: int) -> Iterator[list[list[str]]]:
    """Consecutive sentences grouped into documents of at most `max_tokens` words (a longer
    sentence is skipped), each of at least `min_sentences` sentences."""
    doc: list[list[str]] = []
    size = 0
    for s in sentences:
        if not s or len(s) > max_tokens:
            continue
        if size + len(s) > max_tokens:
            if len(doc) >= min_sentences:
                yield doc
            doc, size = [], 0
        doc.append(s)
        size += len(s)
    if len(doc) >= min_sentences:
        yield doc


def blank_positions(sentence: list[str], ok: list[int], n: int, rng: np.random.Generator) -> list[int]:
    """Up to `n` of the positions `ok` of `sentence`, each holding a different word; for n = 1 one
    position drawn uniformly (a word that occurs twice is twice as likely)."""
    if n == 1:
        return [ok[int(rng.integers(len(ok)))]]
    by_word: dict[str, list[int]] = {}
    for j in ok:
        by_word.setdefault(sentence[j], []).append(j)
    groups = list(by_word.values())
    picked = rng.choice(len(groups), size=min(n, len(groups)), replace=False)
    return [groups[t][int(rng.integers(len(groups[t])))] for t in sorted(picked.tolist())]


def weighted_blanks(doc: list[list[str]], others: dict[tuple[int, int], int], power: float, max_sentences: int,
                    per_sentence: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """(sentence, position) pairs from `others` (every position that may be blanked -> its word's
    occurrences outside its sentence), drawn without replacement with probability proportional to
    those occurrences ** `power` (Gumbel top-k): from at most `max_sentences` sentences, at most
    `per_sentence` different words from each; in document order."""
    at = list(others)
    keys = power * np.log(np.asarray([others[k] for k in at], dtype=np.float64)) + rng.gumbel(size=len(at))
    words: dict[int, set[str]] = {}  # sentence -> the words blanked in it
    picked = []
    for t in np.argsort(-keys, kind="stable").tolist():
        i, j = at[t]
        taken = words.get(i)
        if taken is None and len(words) == max_sentences:
            continue
        taken = words.setdefault(i, set())
        if len(taken) < per_sentence and doc[i][j] not in taken:
            taken.add(doc[i][j])
            picked.append((i, j))
    return sorted(picked)


def make_questions(doc: list[list[str]], g: GenerateParams, pos: PartOfSpeech, rng: np.random.Generator,
                   per_sentence: int = 1) -> list[Question]:
    """Questions from up to `g.questions_per_doc` sentences of one document, up to `per_sentence`
    from each (see the module's docstring)."""
    in_doc = Counter(w for s in doc for w in s)
    allowed = set(g.answer_pos)
    choices: list[tuple[int, list[int]]] = []  # (sentence, positions that may be blanked)
    others: dict[tuple[int, int], int] = {}  # (sentence, position) -> its word's occurrences outside the sentence
    for i, s in enumerate(doc):
        in_sentence = Counter(s)
        ok = [j for j, w in enumerate(s)
              if w != BLANK and in_doc[w] - in_sentence[w] >= g.min_other_occurrences
              and not is_punctuation(w) and pos(w) in allowed]
        if ok:
            choices.append((i, ok))
            others.update(((i, j), in_doc[s[j]] - in_sentence[s[j]]) for j in ok)
    if not choices:
        return []
    def blanks() -> Iterator[tuple[int, int]]:  # lazily: a = 0 draws each position just before its question
        if g.occurrence_power > 0:
            yield from weighted_blanks(doc, others, g.occurrence_power, g.questions_per_doc, per_sentence, rng)
            return
        picked = rng.choice(len(choices), size=min(g.questions_per_doc, len(choices)), replace=False)
        for k in sorted(picked.tolist()):
            i, ok = choices[k]
            for j in blank_positions(doc[i], ok, per_sentence, rng):
                yield i, j

    out = []
    for i, j in blanks():
        query = tuple(doc[i][:j]) + (BLANK,) + tuple(doc[i][j + 1 :])
        whole = rng.random() < g.unblanked_fraction
        sentences = tuple(query if n == i and not whole else tuple(s) for n, s in enumerate(doc))
        out.append(Question(qid="", doc=sentences, query=query, answer=doc[i][j]))
    return out
