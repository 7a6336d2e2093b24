"""Any review in, its label, probability and per-word saliency out, from the trained model:

    python -m kexue.tasks.sentiment.predict "这家酒店的服务太差了"
    python -m kexue.tasks.sentiment.predict --models models/sentiment --prepared data/sentiment/prepared "..."

Tokenised exactly as in training (the params' `sentiment.data.tokens`, the prepared vocabulary).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from kexue.errors import InputError
from kexue.params import load
from kexue.tasks import TASKS
from kexue.tasks.sentiment.data import VOCAB
from kexue.tasks.sentiment.evaluate import load_model
from kexue.tasks.sentiment.params import SentimentParams
from kexue.text.tokenize import Tokenizer
from kexue.text.vocab import Vocab

HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass
class Prediction:
    label: str
    probability: float  # P(positive)
    words: list[tuple[str, float]]  # (token, saliency)


def predict(text: str, models: Path, prepared: Path, params: Path = Path("params.yaml")) -> Prediction:
    """Classify one review; raises InputError for text the model cannot read (empty, no Chinese)."""
    if not text or not text.strip():
        raise InputError("empty review: give the text of a Chinese review")
    if not HAN.search(text):
        raise InputError(f"no Chinese characters in {text[:40]!r}: the model reads Chinese reviews only")
    run, p = load(params, "sentiment", SentimentParams, known_tasks=TASKS)
    vocab_path = Path(prepared) / VOCAB
    if not vocab_path.is_file():
        raise FileNotFoundError(f"{vocab_path}: missing; run the sentiment-preprocess stage first")
    vocab = Vocab.load(vocab_path)
    tokens = Tokenizer(p.data.tokens, cache=False)(text)[: p.data.max_len]
    module = load_model(models, torch.device("cpu"), p.train.ensemble, run.seed)
    probability, saliency = module.saliency(vocab.encode(tokens))
    return Prediction("positive" if probability >= 0.5 else "negative", probability, list(zip(tokens, saliency)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kexue.tasks.sentiment.predict", description=__doc__.splitlines()[0])
    parser.add_argument("text", help="the review")
    parser.add_argument("--models", type=Path, default=Path("models/sentiment"))
    parser.add_argument("--prepared", type=Path, default=Path("data/sentiment/prepared"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    try:
        result = predict(args.text, args.models, args.prepared, args.params)
    except (InputError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{result.label}  P(positive) = {result.probability:.3f}")
    print("saliency (P(review) - P(review without the word); + pushes positive, - negative):")
    for word, s in result.words:
        print(f"  {s:+.3f}  {word}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
