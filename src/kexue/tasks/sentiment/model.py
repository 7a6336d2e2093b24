"""The LightningModule: word vectors + (Bi)LSTM + dense classifier, as in the blog's 文本情感分类
posts, with dropout as in 【备忘】谈谈dropout; and the saliency of each input word.

Saliency (the post RNN模型中输入的重要性的评估 asks how much each input moved the decision): here,
for word i of a review, saliency_i = P(positive | review) - P(positive | review without word i),
the word removed from the sequence (not replaced), so the LSTM reads the review as if it had never
been there. Positive: the word pushed the review towards "positive"; negative: towards "negative";
0: the model ignores it. Padding never reaches the classifier: it comes after the real words in
the forward direction, the backward direction reads each review reversed within its own length
(`kexue.nn.birnn`), and pooling masks it; so a pad position's saliency is exactly 0.
"""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import BinaryAccuracy

from kexue.nn.birnn import BiLSTM
from kexue.tasks.sentiment.params import ModelParams, TrainParams
from kexue.text.batching import pad_batch
from kexue.text.vocab import Vocab


class LSTMClassifier(nn.Module):
    def __init__(self, vocab_size: int, mp: ModelParams) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, mp.embed_dim, padding_idx=0)
        self.dropout = nn.Dropout(mp.dropout)
        self.word_dropout = mp.word_dropout
        # BiLSTM on right-padded batches, not nn.LSTM on packed sequences: the same states, but the
        # CPU backward pass is several times faster (src/kexue/nn/birnn.py). A forward-only LSTM is
        # exact on right-padded input as it is. Layers are stacked with dropout between them.
        states = mp.hidden * (2 if mp.bidirectional else 1)
        self.rnns = nn.ModuleList(
            BiLSTM(mp.embed_dim if i == 0 else states, mp.hidden) if mp.bidirectional
            else nn.LSTM(mp.embed_dim if i == 0 else states, mp.hidden, batch_first=True)
            for i in range(mp.layers)
        )
        self.bidirectional = mp.bidirectional
        self.pool = mp.pool
        self.fc = nn.Linear(states, 1)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logit of "positive" for (N, T) right-padded ids with (N,) true lengths."""
        lengths = lengths.to(ids.device)
        if self.training and self.word_dropout:
            ids = ids.masked_fill((torch.rand(ids.shape, device=ids.device) < self.word_dropout) & (ids != Vocab.pad_id), Vocab.unk_id)
        x = self.dropout(self.embed(ids))
        for i, rnn in enumerate(self.rnns):
            if i:
                x = self.dropout(x)
            x = rnn(x, lengths) if self.bidirectional else rnn(x)[0]
        if self.pool == "max":
            # pads filled with a large negative number never win the max: they stay irrelevant
            pad = torch.arange(x.shape[1], device=x.device).unsqueeze(0) >= lengths.unsqueeze(1)
            features = x.masked_fill(pad.unsqueeze(-1), -1e4).max(dim=1).values
        else:
            # final states: forward after the last word, backward (if any) after the first
            last = x[torch.arange(x.shape[0], device=x.device), lengths - 1]
            if self.bidirectional:
                h = x.shape[-1] // 2
                last = torch.cat([last[:, :h], x[:, 0, h:]], dim=1)
            features = last
        return self.fc(self.dropout(features)).squeeze(1)


class SentimentClassifier(L.LightningModule):
    def __init__(self, vocab_size: int, model: dict, train: dict) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.mp = ModelParams.model_validate(model)
        self.tp = TrainParams.model_validate(train)
        self.net = LSTMClassifier(vocab_size, self.mp)
        self.train_acc, self.val_acc = BinaryAccuracy(), BinaryAccuracy()

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.net(ids, lengths)

    def _step(self, batch, split: str, acc: BinaryAccuracy) -> torch.Tensor:
        ids, lengths, y = batch
        logit = self(ids, lengths)
        loss = F.binary_cross_entropy_with_logits(logit, y.float())
        acc(logit, y)
        self.log(f"{split}/loss", loss, on_step=False, on_epoch=True, sync_dist=True)
        self.log(f"{split}/acc", acc, on_step=False, on_epoch=True, prog_bar=split == "val")
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train", self.train_acc)

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val", self.val_acc)

    def configure_optimizers(self):
        # fused: one kernel for the whole update; the embedding table makes the default (foreach)
        # update a large part of a CPU step (DEVELOPERS.md), with the same result
        opt = torch.optim.AdamW(self.parameters(), lr=self.tp.lr, weight_decay=self.tp.weight_decay, fused=True)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=self.tp.lr, total_steps=max(2, int(self.trainer.estimated_stepping_batches)), pct_start=0.1
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    @torch.inference_mode()
    def probability(self, sequences: list[list[int]], batch_size: int = 256) -> torch.Tensor:
        """P(positive) for each id sequence (eval mode)."""
        self.eval()
        out = []
        for i in range(0, len(sequences), batch_size):
            ids, lengths = pad_batch(sequences[i : i + batch_size])
            out.append(torch.sigmoid(self(ids.to(self.device), lengths)).float().cpu())
        return torch.cat(out) if out else torch.empty(0)

    def saliency(self, ids: list[int], batch_size: int = 256) -> tuple[float, list[float]]:
        """(P(positive), per-word saliency) of one review: P(review) - P(review without word i)."""
        return saliency(self.probability, ids, batch_size)


class Ensemble(nn.Module):
    """Separately trained classifiers (sentiment.train.ensemble) read as one: P(positive) is the
    mean of theirs, and saliency is defined on that mean exactly as for one model."""

    def __init__(self, members: list[SentimentClassifier]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    @torch.inference_mode()
    def probability(self, sequences: list[list[int]], batch_size: int = 256) -> torch.Tensor:
        return torch.stack([m.probability(sequences, batch_size) for m in self.members]).mean(dim=0)

    def saliency(self, ids: list[int], batch_size: int = 256) -> tuple[float, list[float]]:
        return saliency(self.probability, ids, batch_size)


def saliency(probability: Callable[[list[list[int]], int], torch.Tensor], ids: list[int], batch_size: int) -> tuple[float, list[float]]:
    """(P(positive), per-word saliency) of one review under `probability`:
    saliency_i = P(review) - P(review without word i)."""
    variants = [ids] + [ids[:i] + ids[i + 1 :] for i in range(len(ids))]
    p = probability(variants, batch_size)
    full = float(p[0])
    return full, [full - float(q) for q in p[1:]]
