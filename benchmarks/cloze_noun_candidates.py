"""Cloze diagnostic: accuracy of the trained reader when its candidates are limited to the words whose
jieba part of speech is one the training generator blanks (`cloze.data.generate.answer_pos`).

Needs the cloze pipeline's outputs (`dvc repro cloze-evaluate`). It reads the evaluation sets only
to score them, like the evaluate stage; it is a measurement, not a stage.

    PYTHONPATH=src python benchmarks/cloze_noun_candidates.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from kexue import tasks
from kexue.params import load
from kexue.tasks.cloze.data import EVAL_SETS, VOCAB, Questions, candidate_words, collate, encode, read_eval_set
from kexue.tasks.cloze.evaluate import load_model
from kexue.tasks.cloze.generate import PartOfSpeech
from kexue.tasks.cloze.model import word_probabilities
from kexue.tasks.cloze.params import ClozeParams
from kexue.text.batching import BucketBatchSampler
from kexue.text.vocab import Vocab


def main() -> None:
    _, p = load(Path("params.yaml"), "cloze", ClozeParams, known_tasks=tasks.TASKS)
    module = load_model(Path("models/cloze"), torch.device("cpu"))
    vocab = Vocab.load(Path("data/cloze/prepared") / VOCAB)
    pos, allowed = PartOfSpeech(), set(p.data.generate.answer_pos)
    for name in EVAL_SETS:
        questions = read_eval_set(Path("data/cloze/raw"), name)
        data = Questions(encode(questions, vocab, p.data.question_words))
        probs: list[np.ndarray] = [np.zeros(0)] * len(data)
        with torch.inference_mode():
            for idx in BucketBatchSampler(data.doc_lengths(), 64, shuffle=False):
                batch = collate([data[i] for i in idx])
                for j, wp in zip(idx, word_probabilities(module(batch), batch["cand"])):
                    probs[j] = wp.numpy()
        right_all = right_pos = tagged_answers = 0
        kept = []
        for q, pr in zip(questions, probs):
            words = candidate_words(q)
            pr = pr[: len(words)]
            keep = np.array([pos(w) in allowed for w in words])
            kept.append(int(keep.sum()))
            right_all += words[int(pr.argmax())] == q.answer
            right_pos += words[int(np.where(keep, pr, -1).argmax() if keep.any() else pr.argmax())] == q.answer
            tagged_answers += pos(q.answer or "") in allowed
        n = len(questions)
        print(f"{name}-valid: all candidates {right_all / n:.2%}, only {sorted(allowed)} {right_pos / n:.2%} "
              f"(answers so tagged: {tagged_answers}/{n}; candidates per question "
              f"{np.mean([len(candidate_words(q)) for q in questions]):.1f} -> {np.mean(kept):.1f})")


if __name__ == "__main__":
    main()
