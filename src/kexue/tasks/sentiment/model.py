"""The LightningModule: word vectors + (Bi)LSTM + dense classifier, as in the blog's 文本情感分类
posts, with dropout as in 【备忘】谈谈dropout; and the saliency of each input word.

Saliency (the post RNN模型中输入的重要性的评估 asks how much each input moved the decision): here,
for word i of a review, saliency_i = P(positive | review) - P(positive | review without word i),
the word removed from the sequence (not replaced), so the LSTM reads the review as if it had never
been there. Positive: the word pushed the review towards "positive"; negative: towards "negative";
0: the model ignores it. Padding is never part of the sequence the LSTM reads (packed sequences),
so a pad position's saliency is exactly 0.
"""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torchmetrics.classification import BinaryAccuracy

from kexue.tasks.sentiment.params import ModelParams, TrainParams
from kexue.text.batching import pad_batch


class LSTMClassifier(nn.Module):
    def __init__(self, vocab_size: int, mp: ModelParams) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, mp.embed_dim, padding_idx=0)
        self.dropout = nn.Dropout(mp.dropout)
        self.lstm = nn.LSTM(mp.embed_dim, mp.hidden, mp.layers, batch_first=True, bidirectional=mp.bidirectional,
                            dropout=mp.dropout if mp.layers > 1 else 0.0)
        self.pool = mp.pool
        states = mp.hidden * (2 if mp.bidirectional else 1)
        self.fc = nn.Linear(states, 1)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logit of "positive" for (N, T) padded ids with (N,) true lengths."""
        packed = pack_padded_sequence(self.dropout(self.embed(ids)), lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, (h, _) = self.lstm(packed)
        if self.pool == "max":
            # padding filled with a large negative number never wins the max: pads stay irrelevant
            steps, _ = pad_packed_sequence(out, batch_first=True, padding_value=-1e4)
            features = steps.max(dim=1).values
        else:
            features = torch.cat([h[-2], h[-1]], dim=1) if self.lstm.bidirectional else h[-1]
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
        opt = torch.optim.AdamW(self.parameters(), lr=self.tp.lr, weight_decay=self.tp.weight_decay)
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
        variants = [ids] + [ids[:i] + ids[i + 1 :] for i in range(len(ids))]
        p = self.probability(variants, batch_size)
        full = float(p[0])
        return full, [full - float(q) for q in p[1:]]
