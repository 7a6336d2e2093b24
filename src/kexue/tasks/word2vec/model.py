"""Word2vec with negative sampling (skip-gram or CBOW) as a LightningModule, after the blog's
【不可思议的Word2Vec】6. Keras版的Word2Vec: word2vec's own recipe, batched.

Two tables: input vectors (the word vectors we keep, initialised uniform in +-0.5/dim as word2vec
does) and output vectors (zeros). For each (input, target) pair, with `negative` noise words:
  g = alpha * (label - sigmoid(input . output[target]))   (label 1 for the target, 0 for noise)
  output[target] += g * input,  input += sum of g * output[target]   (over the target and the noise)
which is plain SGD on the negative-sampling loss. Skip-gram: the input is a context word and the
target the centre (word2vec.c and gensim pair them this way round); CBOW: the input is the mean of
the context vectors (`cbow_mean`, else their sum) and its update goes whole to every context word,
as in word2vec.c. A noise word equal to the target is skipped, as there.

Batched: one update trains every pair of `batch_words` words of the stream at once, windows and noise
drawn on the device; a Lightning step applies `updates_per_step` updates one after another. The update is computed in closed form (it is word2vec's rule; a test checks it
against autograd) and added into only the rows the step touched (`index_add_`): no autograd graph,
no dense gradient of the 2 x V x dim tables, no optimizer state. autograd through
`nn.Embedding(sparse=True)` with `torch.optim.SGD` gives the same update about 10% slower here (it
builds and coalesces sparse gradients). What made it fast on the CPU (README): an alias table for
the noise, `F.embedding` (index_select) rather than `w[ids]` gathers, skip-gram's contexts of one
centre sharing its noise words (`shared_noise`), steps small enough to stay in cache, and the loss
logged once an epoch. All steps sum the updates of a word's occurrences; word2vec applies them one
after another. With a large vocabulary that makes no measurable difference; with a tiny one, or
very large steps, a frequent word collects dozens of updates at once and training can diverge
(the epoch's loss then stops the run with a message).

On a GPU the batched update is launch-bound at the small sizes its quality needs; there
`kernel: triton` (the default where it can run) trains skip-gram with hogwild.py instead: word2vec.c's
own sequential update in each of `parallel` programs side by side, with the same windows and noise
drawn here.

Learning rate: alpha decays linearly from `alpha` to `min_alpha` over all words of all epochs,
counted before subsampling, as word2vec and gensim do.
"""

from __future__ import annotations

import os
import time
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

from kexue.errors import InputError
from kexue.tasks.word2vec import hogwild
from kexue.tasks.word2vec.sampling import cbow_contexts, draw_noise, noise_table, skipgram_pairs, windows


class Diverged(InputError, FloatingPointError):
    """The loss went to inf/nan: the params ask for steps too large for this vocabulary."""


def choose_kernel(choice: str, arch: str, cuda: bool) -> str:
    """The update that runs: `choice` (word2vec.train.kernel) with auto resolved for this device."""
    if choice == "auto":
        return "triton" if cuda and arch == "sg" and hogwild.available() else "torch"
    if choice == "triton":
        if arch != "sg":
            raise InputError(f"word2vec.train.kernel: triton trains skip-gram only (word2vec.model.arch is {arch!r}); use kernel: torch")
        if not hogwild.available():
            raise InputError("word2vec.train.kernel: triton needs the triton package (installed with torch's CUDA builds); use kernel: torch")
        if not cuda and os.environ.get("TRITON_INTERPRET") != "1":
            raise InputError("word2vec.train.kernel: triton runs on a CUDA device (trainer.accelerator); use kernel: torch on the CPU")
    return choice


class Word2Vec(L.LightningModule):
    def __init__(self, counts: np.ndarray, model: dict[str, Any], train: dict[str, Any], stream_words: int, seed: int = 0,
                 kernel: str = "torch") -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["counts"])
        self.mp, self.tp, self.kernel = model, train, kernel
        self.automatic_optimization = False  # the update is ours (above), not an optimizer's
        vocab, dim = len(counts), model["dim"]
        g = torch.Generator().manual_seed(seed)
        self.w_in = torch.nn.Parameter((torch.rand(vocab, dim, generator=g) - 0.5) / dim, requires_grad=False)
        self.w_out = torch.nn.Parameter(torch.zeros(vocab, dim), requires_grad=False)
        accept, alias = noise_table(counts, model["ns_exponent"])
        self.register_buffer("noise_accept", accept)
        self.register_buffer("noise_alias", alias)
        self.total_words = stream_words * train["epochs"]
        self.generator: torch.Generator | None = None
        self.epoch_seconds = self.epoch_cpu_seconds = 0.0  # wall and CPU time of this run's epochs, for words/s
        self.epoch_words = 0

    def vectors(self) -> torch.Tensor:
        """The word vectors (input table), on the CPU."""
        return self.w_in.detach().float().cpu()

    def learning_rate(self, position: int) -> float:
        """alpha after `position` words of the whole run (all epochs), decayed linearly."""
        progress = min(1.0, position / max(1, self.total_words))
        return self.tp["alpha"] - (self.tp["alpha"] - self.tp["min_alpha"]) * progress

    def on_train_epoch_start(self) -> None:
        # Seeded per epoch: a run resumed at an epoch boundary draws what an uninterrupted one draws.
        self.generator = torch.Generator(device=self.device).manual_seed(self.hparams.seed * 1_000_003 + self.current_epoch)
        self._loss = torch.zeros(2, device=self.device)  # sum of the updates' mean losses, updates
        self._epoch_start = time.perf_counter(), time.process_time()

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        position = self.current_epoch * self.hparams.stream_words + int(batch["start"])
        cuts = batch["cuts"]
        # float32 whatever the trainer's precision: bf16 would round most single updates away
        with torch.no_grad(), torch.autocast(self.device.type, enabled=False):
            if self.kernel == "triton":
                self.hogwild_step(batch, position)
            else:
                for j in range(len(cuts) - 1):
                    self._alpha = self.learning_rate(position + j * self.tp["batch_words"])
                    loss = self.sgd_step(batch["ids"], batch["sentence"], cuts[j], cuts[j + 1], self._alpha)
                    if loss is not None:
                        # summed here and logged once an epoch: self.log at every update costs a fifth of one
                        self._loss += torch.stack([loss, torch.ones_like(loss)])
        self.optimizers().step()  # updates nothing (no .grad): counts the step, which checkpointing keys on

    def on_train_epoch_end(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        self.epoch_seconds += time.perf_counter() - self._epoch_start[0]
        self.epoch_cpu_seconds += time.process_time() - self._epoch_start[1]
        self.epoch_words += self.hparams.stream_words
        loss = self._loss[0] / self._loss[1].clamp(min=1)
        if not torch.isfinite(loss):
            raise Diverged(
                f"word2vec diverged in epoch {self.current_epoch} (loss {float(loss)}): an update sums the changes of "
                "every occurrence of a word in it; lower word2vec.train.batch_words or word2vec.train.alpha")
        self.log("train/loss", loss, prog_bar=True)
        self.log("train/alpha", self._alpha)

    def hogwild_step(self, batch: dict[str, Any], position: int) -> None:
        """All updates of the step side by side in one launch of hogwild.py's kernel, each one word
        after another: the same windows and noise as sgd_step draws, here for every stretch position."""
        ids, sentence, cuts = batch["ids"], batch["sentence"], batch["cuts"]
        window, negative = self.mp["window"], self.mp["negative"]
        reach = torch.randint(1, window + 1, (len(ids),), generator=self.generator, device=ids.device)
        noise = self.draw_noise((len(ids), negative) if self.mp["shared_noise"] else (len(ids), 2 * window, negative))
        bounds = torch.tensor(cuts, dtype=torch.int64, device=ids.device)
        span = (len(cuts) - 1) * self.tp["batch_words"]
        loss = hogwild.skipgram(ids.contiguous(), sentence.contiguous(), reach, noise, self.w_in, self.w_out,
                                bounds[:-1].contiguous(), bounds[1:].contiguous(), self.tp["alpha"], self.tp["min_alpha"],
                                position, span, self.total_words, window)
        self._alpha = self.learning_rate(position + span)
        self._loss += torch.stack([loss[0] / loss[1].clamp(min=1), (loss[1] > 0).to(loss.dtype)])

    def sgd_step(self, ids: torch.Tensor, sentence: torch.Tensor, first: int, last: int, alpha: float) -> torch.Tensor | None:
        """One batched word2vec update of the centres first..last-1; returns the mean loss per
        (input, target) pair."""
        window, negative = self.mp["window"], self.mp["negative"]
        if self.mp["arch"] == "cbow":
            target, inputs, count = cbow_contexts(ids, sentence, first, last, window, self.generator)
            mode = "mean" if self.mp["cbow_mean"] else "sum"
            h = F.embedding_bag(inputs, self.w_in, count.cumsum(0) - count, mode=mode)[:, None, :]
            valid = torch.ones(len(target), 1, dtype=torch.bool, device=ids.device)
        elif self.mp["shared_noise"]:  # all contexts of a centre against the centre and the same noise
            positions, valid = windows(sentence, first, last, window, self.generator)
            target, context = ids[first:last], ids[positions]
            h = F.embedding(context, self.w_in)  # (centres, 2 * window, dim), the invalid slots masked below
            inputs = context[valid]
        else:  # each (context, centre) pair with its own noise, as word2vec.c
            target, inputs = skipgram_pairs(ids, sentence, first, last, window, self.generator)
            h = F.embedding(inputs, self.w_in)[:, None, :]
            valid = torch.ones(len(target), 1, dtype=torch.bool, device=ids.device)
        if len(target) == 0:
            return None
        targets = torch.cat([target[:, None], self.draw_noise((len(target), negative))], 1)
        grad_h, loss = self.update_output(h, valid, targets, alpha)
        if self.mp["arch"] == "cbow":  # each context word gets its centre's whole update, as word2vec.c
            grad_h = torch.repeat_interleave(grad_h[:, 0], count, dim=0)
        else:
            grad_h = grad_h[valid]
        self.w_in.index_add_(0, inputs, grad_h)
        return loss

    def update_output(self, h: torch.Tensor, valid: torch.Tensor, targets: torch.Tensor, alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
        """The negative-sampling step for inputs h (m, c, dim), each row's c inputs (where `valid`)
        against the same targets (m, 1 + negative): the true word, then the noise. Updates the
        output vectors in place; returns the update of the inputs (m, c, dim) and the mean loss."""
        u = F.embedding(targets, self.w_out)  # (m, 1 + negative, dim)
        score = torch.bmm(h, u.transpose(1, 2))  # (m, c, 1 + negative)
        label = torch.zeros_like(score)
        label[:, :, 0] = 1.0
        weight = valid[:, :, None].to(score.dtype).repeat(1, 1, targets.shape[1])
        weight[:, :, 1:] *= (targets[:, None, 1:] != targets[:, None, :1]).to(score.dtype)  # noise = target: skipped
        g = (label - torch.sigmoid(score)) * weight * alpha
        self.w_out.index_add_(0, targets.reshape(-1), torch.bmm(g.transpose(1, 2), h).reshape(-1, h.shape[2]))
        loss = -(F.logsigmoid((2 * label - 1) * score) * weight).sum() / valid.sum()
        return torch.bmm(g, u), loss

    def draw_noise(self, shape: tuple[int, ...]) -> torch.Tensor:
        return draw_noise(self.noise_accept, self.noise_alias, shape, self.generator)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        # The update is ours (sgd_step); Lightning still wants optimizer steps to count the global
        # step, and saves no checkpoint without one. Plain SGD without momentum keeps no state.
        return torch.optim.SGD(self.parameters(), lr=self.tp["alpha"])
