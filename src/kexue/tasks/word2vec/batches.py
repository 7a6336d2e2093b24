"""The corpus as training steps. An update trains `batch_words` consecutive words of the stream
(counted before subsampling, as word2vec counts its progress), subsampled afresh every epoch; a
Lightning step carries `updates_per_step` updates' worth of the stream, with `window` kept words
of margin on each side so that every centre sees its whole window, and the model applies them one
after another. (Updates of ~1,500 words stay in the CPU's cache; a Lightning step costs a fraction
of a millisecond on its own, so steps carry several.)

A step carries only the stretch of kept word ids and sentence indices and where each update's
centres start in it; the windows and the noise words are drawn on the training device (model.py).
The stream is read in its order, not shuffled, as word2vec and gensim read it. Lightning hands the
epoch to the sampler (`set_epoch`), so a resumed run subsamples each epoch exactly as an
uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Iterator

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from kexue.tasks.word2vec.data import Corpus
from kexue.tasks.word2vec.sampling import keep_probability


class Steps(Sampler[tuple[int, int]]):
    """(epoch, step) keys, in order; Lightning sets the epoch before each one."""

    def __init__(self, steps: int) -> None:
        self.steps, self.epoch = steps, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return ((self.epoch, k) for k in range(self.steps))

    def __len__(self) -> int:
        return self.steps


class SubsampledStream(Dataset):
    """Step k of epoch e: the words kept in that epoch's subsampling of the stream positions
    [k * S, (k + 1) * S), S = batch_words * updates_per_step, with margins."""

    def __init__(self, ids: np.ndarray, sentence: np.ndarray, keep: np.ndarray, batch_words: int, window: int, seed: int,
                 updates_per_step: int = 1) -> None:
        self.ids, self.sentence, self.keep = ids, sentence, keep
        self.batch_words, self.window, self.seed = batch_words, window, seed
        self.step_words = batch_words * updates_per_step
        self.steps = -(-len(ids) // self.step_words)
        self._epoch: int | None = None

    def _subsample(self, epoch: int) -> None:
        rng = np.random.default_rng([self.seed, epoch])
        kept = rng.random(len(self.ids)) < self.keep[self.ids]
        self.kept_ids = torch.from_numpy(self.ids[kept].astype(np.int64))
        self.kept_sentence = torch.from_numpy(self.sentence[kept])
        self.before = np.concatenate([[0], np.cumsum(kept)])  # kept words before each stream position
        self._epoch = epoch

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, key: tuple[int, int]) -> dict[str, torch.Tensor | int | list[int]]:
        epoch, k = key
        if epoch != self._epoch:
            self._subsample(epoch)
        start = k * self.step_words
        end = min(start + self.step_words, len(self.ids))
        cuts = self.before[np.r_[np.arange(start, end, self.batch_words), end]]  # each update's centres, in the kept stream
        lo, hi = max(0, int(cuts[0]) - self.window), min(len(self.kept_ids), int(cuts[-1]) + self.window)
        return {
            "ids": self.kept_ids[lo:hi],
            "sentence": self.kept_sentence[lo:hi],
            "cuts": (cuts - lo).tolist(),  # update j trains the centres cuts[j]..cuts[j + 1] - 1 of the stretch
            "start": start,  # stream position of the step: the learning-rate schedule's clock
        }


class StreamDataModule(L.LightningDataModule):
    def __init__(self, corpus: Corpus, batch_words: int, updates_per_step: int, window: int, sample: float, seed: int) -> None:
        super().__init__()
        self.corpus, self.batch_words, self.updates_per_step = corpus, batch_words, updates_per_step
        self.window, self.sample, self.seed = window, sample, seed

    def train_dataloader(self) -> DataLoader:
        stream = SubsampledStream(self.corpus.ids, self.corpus.sentence_ids(), keep_probability(self.corpus.counts, self.sample),
                                  self.batch_words, self.window, self.seed, self.updates_per_step)
        # batch_size=None: each key fetches one whole step; nothing to collate
        return DataLoader(stream, sampler=Steps(stream.steps), batch_size=None)
