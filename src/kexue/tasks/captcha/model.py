"""The LightningModule: Xception-style features with one classifier per character position (as in
the blog post) or a CTC head (a bidirectional GRU over the feature map's columns)."""

from __future__ import annotations

import math

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from kexue.nn.xception import XceptionFeatures
from kexue.tasks.captcha.data import to_input
from kexue.tasks.captcha.params import ModelParams, TrainParams

BLANK = 0  # CTC blank; character i of the alphabet is class i + 1 in the CTC head


def ctc_greedy_decode(best: torch.Tensor, blank: int = BLANK) -> list[list[int]]:
    """Best-path decoding of (N, T) class indices: merge repeats, then drop blanks. Returns each
    sequence as a list of class indices (blank excluded, so alphabet index + 1)."""
    out = []
    for row in best.tolist():
        seq, prev = [], None
        for k in row:
            if k != prev and k != blank:
                seq.append(k)
            prev = k
        out.append(seq)
    return out


class PerPositionHead(nn.Module):
    """Global average pool, dropout, then `length` softmax classifiers (one linear layer)."""

    def __init__(self, channels: int, length: int, classes: int, dropout: float) -> None:
        super().__init__()
        self.length, self.classes = length, classes
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, length * classes)

    def forward(self, fmap: torch.Tensor) -> torch.Tensor:
        """(N, C, h, w) -> logits (N, length, classes)."""
        return self.fc(self.dropout(fmap.mean(dim=(2, 3)))).view(-1, self.length, self.classes)


class CTCHead(nn.Module):
    """Average over the height, a bidirectional GRU along the width, classes + blank per column."""

    def __init__(self, channels: int, classes: int, dropout: float, hidden: int = 128) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.rnn = nn.GRU(channels, hidden, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, classes + 1)

    def forward(self, fmap: torch.Tensor) -> torch.Tensor:
        """(N, C, h, w) -> log-probabilities (N, w, classes + 1)."""
        seq = self.dropout(fmap.mean(dim=2).transpose(1, 2))
        out, _ = self.rnn(seq)
        return F.log_softmax(self.fc(out).float(), dim=-1)


class CaptchaRecognizer(L.LightningModule):
    def __init__(self, model: dict, train: dict, alphabet: str, length: int, channels_last: bool = False) -> None:
        super().__init__()
        self.save_hyperparameters()  # plain values: the checkpoint alone rebuilds the module
        self.mp = ModelParams.model_validate(model)
        self.tp = TrainParams.model_validate(train)
        self.alphabet, self.length = alphabet, length
        self.channels_last = channels_last
        self.features = XceptionFeatures(width=self.mp.width, middle_blocks=self.mp.middle_blocks)
        c = self.features.out_channels
        if self.mp.head == "ctc":
            self.head: nn.Module = CTCHead(c, len(alphabet), self.mp.dropout)
        else:
            self.head = PerPositionHead(c, length, len(alphabet), self.mp.dropout)
        if channels_last:
            self.features = self.features.to(memory_format=torch.channels_last)

    def forward(self, x_uint8: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(to_input(x_uint8, self.channels_last)))

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.mp.head == "ctc":
            n, t = out.shape[:2]
            return F.ctc_loss(
                out.transpose(0, 1),
                y + 1,
                input_lengths=torch.full((n,), t, dtype=torch.long),
                target_lengths=torch.full((n,), y.shape[1], dtype=torch.long),
                blank=BLANK,
                zero_infinity=True,
            )
        return F.cross_entropy(out.flatten(0, 1), y.flatten())

    @torch.no_grad()
    def decode(self, out: torch.Tensor) -> torch.Tensor:
        """Network output -> (N, length) alphabet indices. A CTC path that decodes to the wrong number
        of characters is all -1: no position can be said to line up, and the string is wrong."""
        if self.mp.head != "ctc":
            return out.argmax(-1)
        pred = torch.full((out.shape[0], self.length), -1, dtype=torch.long)
        for i, seq in enumerate(ctc_greedy_decode(out.argmax(-1).cpu())):
            if len(seq) == self.length:
                pred[i] = torch.tensor(seq, dtype=torch.long) - 1
        return pred.to(out.device)

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], split: str) -> torch.Tensor:
        x, y = batch
        out = self(x)
        loss = self.loss(out, y)
        pred = self.decode(out)
        self.log(f"{split}/loss", loss, on_step=False, on_epoch=True, sync_dist=True)
        self.log(f"{split}/string_acc", (pred == y).all(1).float().mean(), on_step=False, on_epoch=True, sync_dist=True,
                 prog_bar=split == "val")
        self.log(f"{split}/char_acc", (pred == y).float().mean(), on_step=False, on_epoch=True, sync_dist=True)
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def configure_optimizers(self):
        tp = self.tp
        decay = [p for p in self.parameters() if p.ndim > 1]
        no_decay = [p for p in self.parameters() if p.ndim <= 1]
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": tp.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=tp.lr
        )
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = min(total - 1, int(tp.warmup_epochs * total / tp.epochs))

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / (warmup + 1)
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
