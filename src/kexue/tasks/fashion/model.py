"""The LightningModule: MobileNet v1 on Fashion-MNIST, with flips/shifts/erasing and optional mixup,
and the tricks of issue 37, each off by default: SamplePairing, layer-wise learning-rate decay, gradient
clipping (global or per parameter), a spectral-norm penalty or parametrization, and center loss.

The tricks live here rather than in a module of their own: gan's stages read this file (the FID
classifier), and each module it imported would join their dependencies.
"""

from __future__ import annotations

import math

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from kexue import augment
from kexue.fashion_mnist import CLASSES
from kexue.nn.mobilenet import DepthwiseSeparable, MobileNetV1
from kexue.tasks.fashion.data import to_input
from kexue.tasks.fashion.params import ModelParams, TrainParams


def sample_pairing(x: torch.Tensor, fraction: float) -> torch.Tensor:
    """SamplePairing (Inoue 2018): about `fraction` of the images, chosen at random, each averaged with
    a random partner from the same batch. The labels are left alone: each image keeps its own."""
    chosen = torch.rand(x.shape[0], device=x.device) < fraction
    partner = torch.randperm(x.shape[0], device=x.device)
    return torch.where(chosen.view(-1, *[1] * (x.ndim - 1)), (x + x[partner]) / 2, x)


def clip_per_param(params, max_norm: float) -> None:
    """Scale each parameter's gradient down to L2 norm `max_norm` where it is larger (each tensor on its
    own, unlike the global norm); no host sync."""
    for p in params:
        if p.grad is not None:
            p.grad.mul_(torch.clamp(max_norm / (p.grad.norm() + 1e-6), max=1.0))


def weight_matrix(w: torch.Tensor) -> torch.Tensor:
    """A conv kernel (out, in, k, k) as the matrix (out, in*k*k), as Yoshida & Miyato and torch's
    spectral_norm treat it; a linear weight as it is."""
    return w.reshape(w.shape[0], -1)


class SpectralPenalty(nn.Module):
    """The largest singular value of each conv/linear weight of `net`, by power iteration (Yoshida &
    Miyato 2017): `iterations` steps a call from the previous call's vectors, so one step a training
    step converges as the weights move slowly. The result is differentiable in the weights (sigma =
    u^T W v with u, v held fixed)."""

    def __init__(self, net: nn.Module, iterations: int = 1) -> None:
        super().__init__()
        self.names = [name for name, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        self.iterations = iterations
        for i, name in enumerate(self.names):
            rows = net.get_submodule(name).weight.shape[0]
            self.register_buffer(f"u{i}", F.normalize(torch.randn(rows), dim=0))

    def forward(self, net: nn.Module) -> torch.Tensor:
        """sigma_max of each weight, in `self.names` order, shape (layers,)."""
        sigmas = []
        for i, name in enumerate(self.names):
            w = weight_matrix(net.get_submodule(name).weight)
            u = getattr(self, f"u{i}")
            with torch.no_grad():
                wd = w.detach().float()
                for _ in range(self.iterations):
                    v = F.normalize(wd.t() @ u, dim=0)
                    u = F.normalize(wd @ v, dim=0)
                if self.training:
                    getattr(self, f"u{i}").copy_(u)
            sigmas.append(u.to(w.dtype) @ w @ v.to(w.dtype))
        return torch.stack(sigmas)


class CenterLoss(nn.Module):
    """Center loss (Wen et al. 2016): half the mean squared distance of each feature vector to its
    class's centre; the centres are parameters, learnt by the optimizer with the network."""

    def __init__(self, num_classes: int, dim: int) -> None:
        super().__init__()
        self.centers = nn.Parameter(torch.zeros(num_classes, dim))

    def forward(self, features: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 0.5 * (features - self.centers[y]).pow(2).sum(1).mean()


def layer_blocks(net: MobileNetV1) -> list[list[nn.Parameter]]:
    """The network's parameters by block, bottom to top: the stem (what precedes the first
    depthwise-separable block), each block, the classifier."""
    blocks: list[list[nn.Parameter]] = [[]]
    for m in net.features:
        if isinstance(m, DepthwiseSeparable):
            blocks.append(list(m.parameters()))
        elif len(blocks) == 1:
            blocks[0].extend(m.parameters())
        else:
            blocks[-1].extend(m.parameters())
    blocks.append(list(net.classifier.parameters()))
    return blocks


def spectral_normalize(net: nn.Module) -> None:
    """torch's spectral-norm parametrization on every conv and linear weight of `net`."""
    for m in list(net.modules()):
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.utils.parametrizations.spectral_norm(m)


class FashionClassifier(L.LightningModule):
    def __init__(self, model: dict, train: dict, channels_last: bool = False) -> None:
        super().__init__()
        # Plain dicts, so that the checkpoint alone rebuilds the module (load_from_checkpoint).
        self.save_hyperparameters()
        self.mp = ModelParams.model_validate(model)
        self.tp = TrainParams.model_validate(train)
        self.channels_last = channels_last
        self.augment = augment.parse(self.tp.augment)
        mp = self.mp
        self.net = MobileNetV1(num_classes=len(CLASSES), width=mp.width, dropout=mp.dropout,
                               activation=mp.activation, dropout_kind=mp.dropout_kind)
        # Built only when switched on: at the defaults the module (state_dict, random draws) is as before.
        if mp.spectral_norm:
            spectral_normalize(self.net)
        self.spectral = SpectralPenalty(self.net) if self.tp.spectral_reg > 0 else None
        self.center_loss = CenterLoss(len(CLASSES), self.net.feature_dim) if self.tp.center_loss > 0 else None
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self.train_acc = MulticlassAccuracy(num_classes=len(CLASSES), average="micro")
        self.val_acc = MulticlassAccuracy(num_classes=len(CLASSES), average="micro")

    def forward(self, x_uint8: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of uint8 (N, 28, 28) images."""
        return self.net(to_input(x_uint8, self.channels_last))

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        tp = self.tp
        x, y = batch
        x = augment.apply(to_input(x, self.channels_last), self.augment)
        if tp.sample_pairing > 0:
            x = sample_pairing(x, tp.sample_pairing)
        ls = self.tp.label_smoothing
        y_a, y_b, lam = y, y, 1.0
        if tp.mixup_alpha > 0:
            x, y_a, y_b, lam = augment.mixup(x, y, tp.mixup_alpha)
        features = self.net.embed(x)
        logits = self.net.classifier(self.net.dropout(features))

        def mixed(loss_of) -> torch.Tensor:
            """The loss against y, or under mixup lam-weighted against both images' labels."""
            return loss_of(y) if tp.mixup_alpha == 0 else lam * loss_of(y_a) + (1 - lam) * loss_of(y_b)

        loss = mixed(lambda t: F.cross_entropy(logits, t, label_smoothing=ls))
        self.train_acc(logits, y)
        self.log("train/loss", loss, on_step=False, on_epoch=True, sync_dist=True)
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True)
        if self.center_loss is not None:
            center = mixed(lambda t: self.center_loss(features, t))
            self.log("train/center_loss", center, on_step=False, on_epoch=True, sync_dist=True)
            loss = loss + tp.center_loss * center
        if self.spectral is not None:
            penalty = self.spectral(self.net).pow(2).sum()
            self.log("train/spectral_penalty", penalty, on_step=False, on_epoch=True, sync_dist=True)
            loss = loss + tp.spectral_reg * penalty
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.val_acc(logits, y)
        self.log("val/loss", F.cross_entropy(logits, y), on_step=False, on_epoch=True, sync_dist=True)
        self.log("val/acc", self.val_acc, on_step=False, on_epoch=True, prog_bar=True)

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        """Lightning calls this after the backward pass (gradients unscaled): per-parameter clipping,
        then Lightning's own by `train.grad_clip` and `train.grad_clip_algorithm`."""
        if self.tp.grad_clip_per_param > 0:
            clip_per_param(self.parameters(), self.tp.grad_clip_per_param)
        if self.tp.grad_clip > 0:
            gradient_clip_val, gradient_clip_algorithm = self.tp.grad_clip, self.tp.grad_clip_algorithm
        self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def param_groups(self) -> list[dict]:
        """The optimizer's groups: each block's parameters at lr x lr_layer_decay ** (blocks above it),
        weight decay on weights only (no decay on BatchNorm scales/shifts, biases, centres). At
        lr_layer_decay 1 the whole network is one block: two groups, decay and no decay."""
        tp = self.tp
        centres = list(self.center_loss.parameters()) if self.center_loss is not None else []
        blocks = layer_blocks(self.net) if tp.lr_layer_decay < 1 else [list(self.net.parameters())]
        blocks[-1] += centres
        no_decay = {id(p) for p in self.parameters() if p.ndim <= 1} | {id(p) for p in centres}
        groups = []
        for depth, params in enumerate(blocks):
            lr = tp.lr * tp.lr_layer_decay ** (len(blocks) - 1 - depth)
            groups.append({"params": [p for p in params if id(p) not in no_decay], "weight_decay": tp.weight_decay, "lr": lr})
            groups.append({"params": [p for p in params if id(p) in no_decay], "weight_decay": 0.0, "lr": lr})
        return groups

    def configure_optimizers(self):
        tp = self.tp
        groups = self.param_groups()
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
