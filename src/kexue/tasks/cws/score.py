"""Segmentation scored the SIGHAN way (the bakeoff's `score` script): words are compared as character
spans of the text, so a predicted word counts only if it covers exactly a gold word's span.

precision = right words / predicted words, recall = right words / gold words, F1 their harmonic
mean; OOV recall is the recall over gold words not in the training dictionary, IV recall over those
that are.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass


def spans(words: Sequence[str]) -> set[tuple[int, int]]:
    """Character spans [start, end) of `words` laid end to end."""
    out, i = set(), 0
    for w in words:
        out.add((i, i + len(w)))
        i += len(w)
    return out


@dataclass
class Score:
    precision: float
    recall: float
    f1: float
    oov_recall: float
    iv_recall: float
    gold_words: int
    predicted_words: int
    right_words: int
    oov_rate: float

    def as_dict(self) -> dict[str, float | int]:
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def score(gold: Iterable[Sequence[str]], predicted: Iterable[Sequence[str]], dictionary: Collection[str]) -> Score:
    """Score a predicted segmentation (lines of words) against the gold one.

    As the bakeoff's script does, the words of all lines are laid end to end and compared as spans
    of the whole text, so the two sides must spell the same characters overall but may break lines
    differently (the MSR gold file moves a few quotation marks to the previous line)."""
    g = [w for line in gold for w in line]
    p = [w for line in predicted for w in line]
    g_text, p_text = "".join(g), "".join(p)
    if g_text != p_text:
        at = next((i for i, (a, b) in enumerate(zip(g_text, p_text)) if a != b), min(len(g_text), len(p_text)))
        raise ValueError(
            f"the prediction and the gold differ at character {at}: gold {g_text[at:at + 20]!r}, predicted {p_text[at:at + 20]!r}"
        )
    pred_spans = spans(p)
    right = oov = oov_right = 0
    i = 0
    for w in g:
        hit = (i, i + len(w)) in pred_spans
        right += hit
        if w not in dictionary:
            oov += 1
            oov_right += hit
        i += len(w)
    n_gold, n_pred = len(g), len(p)
    precision = right / n_pred if n_pred else 0.0
    recall = right / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    iv = n_gold - oov
    return Score(
        precision=precision,
        recall=recall,
        f1=f1,
        oov_recall=oov_right / oov if oov else 0.0,
        iv_recall=(right - oov_right) / iv if iv else 0.0,
        gold_words=n_gold,
        predicted_words=n_pred,
        right_words=right,
        oov_rate=oov / n_gold if n_gold else 0.0,
    )
