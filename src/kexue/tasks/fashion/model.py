"""The LightningModule: MobileNet v1 on Fashion-MNIST, with flips/shifts/erasing and optional mixup."""

from __future__ import annotations

import math

import lightning as L
import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassAccuracy

from kexue import augment
from kexue.nn.mobilenet import MobileNetV1
from kexue.tasks.fashion.data import CLASSES, to_input
from kexue.tasks.fashion.params import ModelParams, TrainParams


class FashionClassifier(L.LightningModule):
    def __init__(self, model: dict, train: dict, channels_last: bool = False) -> None:
        super().__init__()
        # Plain dicts, so that the checkpoint alone rebuilds the module (load_from_checkpoint).
        self.save_hyperparameters()
        self.mp = ModelParams.model_validate(model)
        self.tp = TrainParams.model_validate(train)
        self.channels_last = channels_last
        self.augment = augment.parse(self.tp.augment)
        self.net = MobileNetV1(num_classes=len(CLASSES), width=self.mp.width, dropout=self.mp.dropout)
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self.train_acc = MulticlassAccuracy(num_classes=len(CLASSES), average="micro")
        self.val_acc = MulticlassAccuracy(num_classes=len(CLASSES), average="micro")

    def forward(self, x_uint8: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of uint8 (N, 28, 28) images."""
        return self.net(to_input(x_uint8, self.channels_last))

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        x = augment.apply(to_input(x, self.channels_last), self.augment)
        ls = self.tp.label_smoothing
        if self.tp.mixup_alpha > 0:
            x, y_a, y_b, lam = augment.mixup(x, y, self.tp.mixup_alpha)
            logits = self.net(x)
            loss = lam * F.cross_entropy(logits, y_a, label_smoothing=ls) + (1 - lam) * F.cross_entropy(
                logits, y_b, label_smoothing=ls
            )
        else:
            logits = self.net(x)
            loss = F.cross_entropy(logits, y, label_smoothing=ls)
        self.train_acc(logits, y)
        self.log("train/loss", loss, on_step=False, on_epoch=True, sync_dist=True)
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.val_acc(logits, y)
        self.log("val/loss", F.cross_entropy(logits, y), on_step=False, on_epoch=True, sync_dist=True)
        self.log("val/acc", self.val_acc, on_step=False, on_epoch=True, prog_bar=True)

    def configure_optimizers(self):
        tp = self.tp
        # No weight decay on BatchNorm scales/shifts and biases (1-D tensors).
        decay = [p for p in self.parameters() if p.ndim > 1]
        no_decay = [p for p in self.parameters() if p.ndim <= 1]
        groups = [{"params": decay, "weight_decay": tp.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        if tp.optimizer == "sgd":
            opt = torch.optim.SGD(groups, lr=tp.lr, momentum=tp.momentum, nesterov=tp.momentum > 0)
        else:
            opt = torch.optim.AdamW(groups, lr=tp.lr, betas=(tp.momentum, 0.999))
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = min(total - 1, int(tp.warmup_epochs * total / tp.epochs))

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / (warmup + 1)
            if tp.schedule == "constant":
                return 1.0
            progress = (step - warmup) / max(1, total - warmup)
            return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
