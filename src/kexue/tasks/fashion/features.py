"""Intermediate outputs: `python -m kexue.tasks.fashion.features [--layer NAME] [--images N] [--out DIR]`.

Runs the best checkpoint (`--models`, default models/fashion) on the first N images of a prepared split
(`--prepared`, `--split`, default the test images) and catches one layer's output with a forward hook:
`DIR/<layer>.npz` holds `activations` (float32, (N, C, H, W) for a conv layer, (N, D) after pooling),
`images` (uint8), `labels`, `predicted` and the images' `indices`; `DIR/<layer>.png` shows each image
beside its first `--maps` feature maps. The layer names are the network's modules (`features.3` is the
first depthwise-separable block, the default; `features.3.2` its depthwise half's activation); a bad
name is answered with the list of valid ones.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from kexue import files, plots
from kexue.errors import EXPECTED_ERRORS, InputError
from kexue.fashion_mnist import CLASSES
from kexue.loading import load_checkpoint
from kexue.nn.mobilenet import DepthwiseSeparable
from kexue.tasks.fashion.data import load_split
from kexue.tasks.fashion.model import FashionClassifier

log = logging.getLogger(__name__)


def layer_names(net: nn.Module) -> list[str]:
    return [name for name, _ in net.named_modules() if name]


def first_block(net: nn.Module) -> str:
    return next(name for name, m in net.named_modules() if isinstance(m, DepthwiseSeparable))


@torch.inference_mode()
def activations(module: FashionClassifier, layer: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The output of `module.net`'s submodule `layer` for uint8 images `x` (a forward hook), and the
    logits. The hook copies the output: an in-place activation after it would otherwise change it."""
    names = layer_names(module.net)
    if layer not in names:
        raise InputError(f"--layer {layer!r}: no such layer; valid layers: {', '.join(names)}")
    caught: list[torch.Tensor] = []
    handle = module.net.get_submodule(layer).register_forward_hook(lambda m, inp, out: caught.append(out.detach().clone()))
    try:
        logits = module.eval()(x)
    finally:
        handle.remove()
    return caught[0].contiguous().float(), logits


def feature_maps_png(images: np.ndarray, acts: np.ndarray, labels: list[str], path: Path, title: str, maps: int) -> None:
    """One row an image: the image, then its first `maps` feature maps (each scaled to its own range)."""
    import matplotlib.pyplot as plt

    maps = min(maps, acts.shape[1])
    fig, axes = plt.subplots(len(images), maps + 1, figsize=(0.9 * (maps + 1) + 0.4, 0.95 * len(images) + 0.6), squeeze=False)
    for row, (img, act, label) in enumerate(zip(images, acts, labels)):
        axes[row, 0].imshow(img, cmap="gray", vmin=0, vmax=255)
        axes[row, 0].set_title(label, fontsize=7)
        for c in range(maps):
            axes[row, c + 1].imshow(act[c], cmap="viridis")
            if row == 0:
                axes[row, c + 1].set_title(f"ch {c}", fontsize=7)
    for ax in axes.flat:
        ax.set_axis_off()
    fig.suptitle(title)
    plots.save_figure(fig, path)


def write_features(models: Path, prepared: Path, out: Path, layer: str | None = None, images: int = 8,
                   split: str = "test", maps: int = 16) -> Path:
    """Write `out/<layer>.npz` and `out/<layer>.png` (see the module's docstring); return the .npz path."""
    module = load_checkpoint(Path(models) / "best.ckpt", FashionClassifier, stage="fashion-train")
    layer = layer or first_block(module.net)
    x, y = load_split(prepared, split)
    x, y = x[:images], y[:images]
    acts, logits = activations(module, layer, x)
    out = Path(out)
    npz = out / f"{layer}.npz"
    out.mkdir(parents=True, exist_ok=True)
    files.save_npz(npz, activations=acts.numpy(), images=x.numpy(), labels=y.numpy(),
                   predicted=logits.argmax(1).numpy(), indices=np.arange(len(y)))
    if acts.ndim == 4:
        labels = [f"{CLASSES[int(t)]}\n(predicted {CLASSES[int(p)]})" for t, p in zip(y, logits.argmax(1))]
        feature_maps_png(x.numpy(), acts.numpy(), labels, out / f"{layer}.png",
                         f"{layer}: {acts.shape[1]} maps of {acts.shape[2]}x{acts.shape[3]} (first {min(maps, acts.shape[1])})", maps)
    else:
        log.info("%s outputs vectors %s: no feature-map PNG", layer, tuple(acts.shape))
    log.info("%s activations %s of %d %s images -> %s", layer, tuple(acts.shape), len(y), split, npz)
    return npz


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kexue.tasks.fashion.features", description=__doc__.strip().splitlines()[0])
    parser.add_argument("--layer", help="a module of the network (default: the first depthwise-separable block)")
    parser.add_argument("--images", type=int, default=8, help="the first N images of the split (default 8)")
    parser.add_argument("--out", type=Path, default=Path("metrics/fashion/features"), help="output folder")
    parser.add_argument("--models", type=Path, default=Path("models/fashion"), help="folder of best.ckpt")
    parser.add_argument("--prepared", type=Path, default=Path("data/fashion/prepared"), help="folder of the prepared splits")
    parser.add_argument("--split", choices=("train", "val", "test"), default="test")
    parser.add_argument("--maps", type=int, default=16, help="feature maps drawn per image (default 16)")
    args = parser.parse_args(argv)
    if args.images < 1 or args.maps < 1:
        parser.error("--images and --maps must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        write_features(args.models, args.prepared, args.out, args.layer, args.images, args.split, args.maps)
    except EXPECTED_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
