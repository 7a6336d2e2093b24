"""Training throughput (images/s): the Lightning module under Trainer.fit vs a plain PyTorch loop.

Both run the same FashionClassifier (MobileNet), batch size, data, augmentation, optimizer and LR
schedule, and the same accuracy metric, in one process, alternating rounds; the ratio
plain / Lightning is the cost of the framework (goal: <= 1.05).

    python benchmarks/train_throughput.py [--steps 60] [--warmup 10] [--rounds 2] [--width 1.0]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader, TensorDataset

from kexue import augment
from kexue.params import TrainerParams
from kexue.tasks.fashion.data import load_split, to_input
from kexue.tasks.fashion.model import FashionClassifier
from kexue.tasks.fashion.params import ModelParams, TrainParams
from kexue.training import resolve_precision

PREPARED = Path("data/fashion/prepared")


def _data(n: int) -> TensorDataset:
    if (PREPARED / "train.npz").is_file():
        x, y = load_split(PREPARED, "train")
        return TensorDataset(x[:n], y[:n])
    g = torch.Generator().manual_seed(0)  # no prepared data: random images of the same shape and type
    return TensorDataset(torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=g),
                         torch.randint(0, 10, (n,), generator=g))


def _module(width: float, channels_last: bool) -> FashionClassifier:
    return FashionClassifier(ModelParams(width=width).model_dump(), TrainParams().model_dump(), channels_last)


class _StepTimer(Callback):
    def __init__(self, warmup: int) -> None:
        self.warmup, self.start, self.end, self.steps = warmup, 0.0, 0.0, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.warmup:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.end, self.steps = time.perf_counter(), batch_idx + 1 - self.warmup


def lightning_round(data: TensorDataset, args, channels_last: bool) -> float:
    L.seed_everything(0, workers=True)
    module = _module(args.width, channels_last)
    timer = _StepTimer(args.warmup)
    trainer = L.Trainer(
        accelerator="auto", devices=1, precision=resolve_precision(TrainerParams()), max_epochs=1,
        limit_train_batches=args.warmup + args.steps, limit_val_batches=0, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, callbacks=[timer],
    )
    loader = DataLoader(data, batch_size=args.batch_size, shuffle=True, drop_last=True)
    trainer.fit(module, train_dataloaders=loader)
    return timer.steps * args.batch_size / (timer.end - timer.start)


def plain_round(data: TensorDataset, args, channels_last: bool) -> float:
    """The loop Lightning runs for us, written out: same module code, optimizer and schedule."""
    L.seed_everything(0, workers=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    module = _module(args.width, channels_last).to(device)
    tp = module.tp
    groups = [{"params": [p for p in module.parameters() if p.ndim > 1], "weight_decay": tp.weight_decay},
              {"params": [p for p in module.parameters() if p.ndim <= 1], "weight_decay": 0.0}]
    opt = torch.optim.SGD(groups, lr=tp.lr, momentum=tp.momentum, nesterov=True)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.warmup + args.steps)
    amp = device.type == "cuda" and torch.cuda.is_bf16_supported()
    loader = DataLoader(data, batch_size=args.batch_size, shuffle=True, drop_last=True)
    module.train()
    start = 0.0
    for i, (x, y) in enumerate(loader):
        if i == args.warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        if i == args.warmup + args.steps:
            break
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            xb = augment.apply(to_input(x, channels_last), module.augment)
            logits = module.net(xb)
            loss = F.cross_entropy(logits, y, label_smoothing=tp.label_smoothing)
        module.train_acc(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return args.steps * args.batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args()
    channels_last = not torch.cuda.is_available()
    data = _data((args.warmup + args.steps + 1) * args.batch_size)
    plain, light = [], []
    for _ in range(args.rounds):  # alternate, so drift in machine load hits both alike
        plain.append(plain_round(data, args, channels_last))
        light.append(lightning_round(data, args, channels_last))
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else (
        f"cpu {platform.machine()}, {torch.get_num_threads()} threads")
    result = {
        "device": device,
        "batch_size": args.batch_size,
        "steps_timed": args.steps,
        "plain_images_per_s": round(statistics.median(plain), 1),
        "lightning_images_per_s": round(statistics.median(light), 1),
        "ratio_plain_over_lightning": round(statistics.median(plain) / statistics.median(light), 3),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
