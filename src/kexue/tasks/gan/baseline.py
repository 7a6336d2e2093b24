"""The reference FID that issue 38's goal is measured against: today's default before the architecture
comparison (dcgan generator and critic, WGAN-GP, 60 epochs), trained once and scored by gan-evaluate.

`benchmarks/gan_arch.py --record-baseline` writes it from a committed gan-evaluate run to
`benchmarks/results/gan_arch/baseline.json`; gan-evaluate reads it and reports `fid_baseline` and
`fid_vs_baseline` beside the FID. FIDs are comparable only in one feature network, so the record
carries the digest of the network it was measured in, and gan-evaluate leaves the baseline out (and
says so) when its own network differs: the quick profile's smaller network, or weights trained on
another machine.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import nn

from kexue.errors import InputError

log = logging.getLogger(__name__)


def weights_digest(net: nn.Module) -> str:
    """A short fingerprint of a network's weights (names, shapes, values): two FIDs are comparable only
    when measured in feature networks with the same digest."""
    h = hashlib.sha256()
    for name, tensor in sorted(net.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()[:16]


class BaselineError(InputError, ValueError):
    """The baseline file is missing or not what gan-evaluate expects."""


class Baseline(BaseModel):
    """One measured run: its scores, what it was, and the feature network it was scored in."""

    model_config = ConfigDict(extra="forbid")
    fid: float = Field(gt=0)
    precision: float | None = None
    recall: float | None = None
    fid_floor: float | None = None
    feature_net_digest: str = Field(min_length=1)
    feature_net_test_acc: float | None = None
    generator: str
    critic: str
    loss: str
    epochs: int | None = None
    generator_steps: int | None = None
    train_wall_time_s: float | None = None
    train_device: str | None = None
    commit: str  # the git commit whose metrics/gan.json and dvc.lock hold the run
    recorded_by: str


def read(path: Path) -> Baseline:
    """The baseline file, validated: a missing file or key fails naming the file and the key."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"{path}: no baseline file (record one with `python benchmarks/gan_arch.py --record-baseline`)") from None
    except json.JSONDecodeError as err:
        raise BaselineError(f"{path}: not valid JSON: {err}") from None
    try:
        return Baseline.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise BaselineError(f"{path}: {key}: {first['msg']}") from None


def scores_against(baseline: Baseline, fid: float, digest: str, path: Path) -> dict[str, Any]:
    """`fid_baseline` and `fid_vs_baseline` for a run scored in the network `digest`; both None, with a
    warning, when the baseline was measured in another network (its FID would not compare)."""
    if baseline.feature_net_digest != digest:
        log.warning("%s was measured in feature net %s, this run in %s: FIDs in different networks do not compare, "
                    "so fid_baseline is left out", path, baseline.feature_net_digest, digest)
        return {"fid_baseline": None, "fid_vs_baseline": None}
    return {"fid_baseline": round(baseline.fid, 4), "fid_vs_baseline": round(fid / baseline.fid, 4)}


def record(metrics: dict[str, Any], loss: str, digest: str, commit: str, recorded_by: str) -> Baseline:
    """The baseline record of a gan-evaluate run (`metrics`: its metrics/gan.json) scored in network `digest`."""
    own = metrics.get("feature_net_digest")
    if own is not None and own != digest:
        raise BaselineError(f"metrics/gan.json: feature_net_digest {own} is not the workspace's feature net ({digest}); "
                            "rerun gan-evaluate first")
    keys = ("fid", "precision", "recall", "fid_floor", "feature_net_test_acc", "generator", "critic", "epochs",
            "generator_steps", "train_wall_time_s", "train_device")
    missing = [k for k in ("fid", "generator", "critic") if metrics.get(k) is None]
    if missing:
        raise BaselineError(f"metrics/gan.json: no {', '.join(missing)} (expected a gan-evaluate run's metrics)")
    return Baseline(**{k: metrics.get(k) for k in keys}, loss=loss, feature_net_digest=digest, commit=commit,
                    recorded_by=recorded_by)
