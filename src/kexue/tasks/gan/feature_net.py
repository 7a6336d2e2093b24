"""Stage gan-features: the GAN's own feature network, a small CNN classifier trained once on the
prepared training images and then frozen, like Inception is for image FID.

FID, precision and recall are measured in its penultimate features (`dim`-d, after a ReLU), and
class coverage in its predictions. It used to be fashion-train's MobileNet: every change to the
fashion defaults moved every FID, and gan-evaluate waited on hours of fashion training. This one
trains in minutes on the CPU (always the CPU, so a GPU machine does not get other weights), with its
own params (`gan.features`) and seed; its test accuracy is reported beside the FIDs.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from kexue import files
from kexue.inference import in_batches
from kexue.loading import load_checkpoint
from kexue.params import RunParams
from kexue.tasks.gan.data import load_images, to_gan_input
from kexue.tasks.gan.params import GanParams

log = logging.getLogger(__name__)

NET = "net.pt"
SUMMARY = "summary.json"
NUM_CLASSES = 10


class FeatureNet(nn.Module):
    """conv w (28) -> pool -> conv 2w (14) -> pool -> conv 4w (7) -> flatten -> linear `dim`, ReLU (the
    features) -> linear 10; each conv 3x3 + BatchNorm + ReLU. Input: uint8 images, scaled like
    `to_gan_input`. The flattened map keeps where things are (a global average would not): on
    Fashion-MNIST position tells sleeves, collars and heels apart."""

    def __init__(self, width: int = 32, dim: int = 128) -> None:
        super().__init__()
        w = width

        def conv(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]

        self.body = nn.Sequential(
            *conv(1, w), nn.MaxPool2d(2), *conv(w, 2 * w), nn.MaxPool2d(2), *conv(2 * w, 4 * w), nn.Flatten(),
            nn.Linear(4 * w * 7 * 7, dim), nn.ReLU(True),
        )
        self.head = nn.Linear(dim, NUM_CLASSES)
        self.width = width
        self.feature_dim = dim

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 images (N, 28, 28) -> penultimate features (N, feature_dim)."""
        return self.body(to_gan_input(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 images (N, 28, 28) -> class logits (N, 10)."""
        return self.head(self.embed(x))


def accuracy(net: FeatureNet, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    net.eval()
    pred = in_batches(lambda b: net(b).argmax(1), x, batch_size, torch.device("cpu"))
    return float((pred == y).double().mean())


def features(p: GanParams, run: RunParams, prepared: Path, feature_net: Path) -> None:
    """Stage 2: train the feature classifier on the prepared training images -> `feature_net`.

    Writes `feature_net/net.pt` (width and weights) and `feature_net/summary.json` (test accuracy,
    steps, time). Deterministic by `gan.features.seed` on a given machine (one process, seeded
    shuffling), whatever the run's `seed`: the runs of a seed sweep are all scored in one network.
    `run` is not read (the net trains on the CPU, with its own seed); every stage takes it."""
    fp = p.features
    start = time.perf_counter()
    train_x, train_y = load_images(prepared, "train")
    test_x, test_y = load_images(prepared, "test")
    if fp.train_limit:
        train_x, train_y = train_x[: fp.train_limit], train_y[: fp.train_limit]
    batches = len(train_x) // fp.batch_size
    if batches == 0:
        raise ValueError(f"{Path(prepared) / 'train.npz'}: {len(train_x)} training images, fewer than one batch "
                         f"(gan.features.batch_size = {fp.batch_size})")
    torch.manual_seed(fp.seed)
    order = torch.Generator().manual_seed(fp.seed)
    net = FeatureNet(fp.width, fp.dim)
    opt = torch.optim.Adam(net.parameters(), lr=fp.lr)
    total = fp.epochs * batches
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
    for epoch in range(1, fp.epochs + 1):
        net.train()
        perm = torch.randperm(len(train_x), generator=order)
        loss_sum = 0.0
        for b in range(batches):
            idx = perm[b * fp.batch_size : (b + 1) * fp.batch_size]
            loss = F.cross_entropy(net(train_x[idx]), train_y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item()
        log.info("gan-features epoch %d/%d: loss %.4f (%.0f s)", epoch, fp.epochs, loss_sum / batches, time.perf_counter() - start)
    train_time = time.perf_counter() - start
    test_acc = accuracy(net, test_x, test_y)
    out = Path(feature_net)
    with files.replacing(out / NET) as tmp:
        torch.save({"width": fp.width, "dim": fp.dim, "state_dict": net.state_dict()}, tmp)
    files.write_json(out / SUMMARY, {
        "test_acc": round(test_acc, 4),
        "test_images": len(test_x),
        "train_images": len(train_x),
        "epochs": fp.epochs,
        "steps": total,
        "feature_dim": net.feature_dim,
        "params": sum(t.numel() for t in net.parameters()),
        "train_wall_time_s": round(train_time, 1),
        "threads": torch.get_num_threads(),
    })
    log.info("gan-features: test accuracy %.4f, %d-d features, %.0f s -> %s", test_acc, net.feature_dim, train_time, out)


def load_feature_net(folder: Path) -> FeatureNet:
    """The frozen feature network gan-features wrote to `folder`, in eval mode on the CPU."""
    state = load_checkpoint(Path(folder) / NET, stage="gan-features")
    net = FeatureNet(int(state["width"]), int(state["dim"]))
    net.load_state_dict(state["state_dict"])
    return net.eval().requires_grad_(False)
