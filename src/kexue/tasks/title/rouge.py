"""ROUGE-1 / ROUGE-2 / ROUGE-L F1 on characters, by torchmetrics' ROUGEScore (a port of Google's
`rouge-score`), never a scorer of our own.

Two settings make it read Chinese: its default normaliser keeps only `[a-z0-9]` (a Chinese title would
become empty) and its default tokeniser splits at spaces (a title would be one token). Ours: NFKC
(full-width and half-width letters, digits and punctuation read alike) and lower case, then every
character but whitespace is a token, punctuation included. `rougeLsum` is left out: it needs nltk.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from torchmetrics.functional.text.rouge import rouge_score
from torchmetrics.text.rouge import ROUGEScore

KEYS = ("rouge1", "rouge2", "rougeL")


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def characters(text: str) -> list[str]:
    return [c for c in text if not c.isspace()]


def scorer() -> ROUGEScore:
    """A torchmetrics metric object (update with predictions and references, compute the means)."""
    return ROUGEScore(normalizer=normalize, tokenizer=characters, rouge_keys=KEYS)


def f1(scores: dict) -> dict[str, float]:
    """{'rouge1': F1, 'rouge2': F1, 'rougeL': F1} from torchmetrics' output."""
    return {k: round(float(scores[f"{k}_fmeasure"]), 6) for k in KEYS}


def rouge(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean F1 over the pairs of ROUGE-1, ROUGE-2 and ROUGE-L on characters."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if not predictions:
        return dict.fromkeys(KEYS, 0.0)
    metric = scorer()
    metric.update(list(predictions), list(references))
    return f1(metric.compute())


def rouge_one(prediction: str, reference: str) -> dict[str, float]:
    """The three F1 scores of one pair."""
    return f1(rouge_score(prediction, reference, normalizer=normalize, tokenizer=characters, rouge_keys=KEYS))
