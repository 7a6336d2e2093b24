"""Evaluation helpers shared by the tasks: which device evaluates, and batched inference."""

from __future__ import annotations

from collections.abc import Callable

import torch

from kexue.params import RunParams


def eval_device(run: RunParams) -> torch.device:
    """The GPU when params allow one and there is one, else the CPU."""
    return torch.device("cuda" if run.trainer.uses_cuda() else "cpu")


@torch.inference_mode()
def in_batches(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch_size: int, device: torch.device) -> torch.Tensor:
    """fn over `x` in batches on `device`; the outputs concatenated on the CPU (floats as float32)."""
    outs = []
    for i in range(0, len(x), batch_size):
        out = fn(x[i : i + batch_size].to(device)).cpu()
        outs.append(out.float() if out.is_floating_point() else out)
    return torch.cat(outs)
