"""build_trainer's checkpoints (`last.ckpt` follows every epoch, `best.ckpt` only the best score), the
GPU check, the EMA callback and the run summary every training shares."""

from __future__ import annotations

import pytest
import torch
from lightning import LightningModule
from torch.utils.data import DataLoader, TensorDataset

from kexue.params import TrainerParams
from kexue.training import build_trainer


class WorseEveryEpoch(LightningModule):
    """Logs a validation score that falls every epoch: only epoch 0 is ever the best."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        (x,) = batch
        return self.layer(x).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        self.log("val/score", -float(self.current_epoch))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def loader() -> DataLoader:
    return DataLoader(TensorDataset(torch.randn(8, 2)), batch_size=4)


def test_last_checkpoint_is_written_every_epoch_even_without_a_better_score(tmp_path):
    tp = TrainerParams(accelerator="cpu", devices=1, progress_bar=False)
    trainer, best = build_trainer(tp, max_epochs=3, ckpt_dir=tmp_path, live_dir=None, resume=False,
                                  monitor="val/score")
    trainer.fit(WorseEveryEpoch(), train_dataloaders=loader(), val_dataloaders=loader())
    assert trainer.checkpoint_callback is best and best.best_model_score == 0.0
    last = torch.load(tmp_path / "last.ckpt", map_location="cpu", weights_only=False)
    first_best = torch.load(tmp_path / "best.ckpt", map_location="cpu", weights_only=False)
    assert (last["epoch"], last["global_step"]) == (2, 6)  # 3 epochs of 2 steps
    assert (first_best["epoch"], first_best["global_step"]) == (0, 2)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["best.ckpt", "last.ckpt"]

    # resumed from last.ckpt, the best callback still knows epoch 0 was best: best.ckpt stays
    trainer, best = build_trainer(tp, max_epochs=4, ckpt_dir=tmp_path, live_dir=None, resume=True, monitor="val/score")
    trainer.fit(WorseEveryEpoch(), train_dataloaders=loader(), val_dataloaders=loader(), ckpt_path=tmp_path / "last.ckpt")
    assert torch.load(tmp_path / "last.ckpt", map_location="cpu", weights_only=False)["epoch"] == 3
    assert torch.load(tmp_path / "best.ckpt", map_location="cpu", weights_only=False)["global_step"] == 2


def test_the_gpu_is_used_where_params_allow_one_and_there_is_one(monkeypatch):
    """One check (`TrainerParams.uses_cuda`) decides for training's precision, evaluation's device and word2vec's kernel."""
    from kexue.inference import eval_device
    from kexue.params import RunParams
    from kexue.training import resolve_precision

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    for available in (True, False):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
        for accelerator in ("auto", "gpu", "cuda", "cpu"):
            tp = TrainerParams(accelerator=accelerator)
            gpu = available and accelerator != "cpu"
            assert tp.uses_cuda() is gpu, (available, accelerator)
            assert resolve_precision(tp) == ("bf16-mixed" if gpu else "32-true")
            assert eval_device(RunParams(trainer=tp)).type == ("cuda" if gpu else "cpu")


def test_ema_callback_warm_up_or_lightnings_fixed_decay():
    from lightning.pytorch.callbacks import EMAWeightAveraging, WeightAveraging

    from kexue.training import ema_avg_fn, ema_callback

    avg = ema_avg_fn(0.999)
    a, c = torch.tensor(1.0), torch.tensor(0.0)
    assert float(avg(a, c, torch.tensor(0))) == pytest.approx(0.1)  # min(0.999, 1/10) of the average kept
    assert float(avg(a, c, torch.tensor(10**6))) == pytest.approx(0.999)
    warm = ema_callback(0.99)
    assert type(warm) is WeightAveraging and warm._use_buffers
    fixed = ema_callback(0.99, warmup=False, use_buffers=False)
    assert isinstance(fixed, EMAWeightAveraging) and not fixed._use_buffers
    with pytest.raises(ValueError, match="EMA decay"):
        ema_callback(0.0)


def test_run_summary_writes_the_standard_keys_then_extra_or_a_layout_of_its_own(tmp_path):
    import json

    from lightning.pytorch.callbacks import Timer

    from kexue.run_summary import RunSummary, best_checkpoint

    tp = TrainerParams(accelerator="cpu", devices=1, progress_bar=False)
    timer = Timer()
    default = RunSummary(tmp_path / "a.json", timer, "best_val_score", {"best_checkpoint": best_checkpoint, "n": 3})
    layout = RunSummary(tmp_path / "b.json", timer, extra={"twice": lambda trainer, m: 2 * trainer.global_step},
                        keys=["epochs", "twice", "device"])
    trainer, _ = build_trainer(tp, max_epochs=2, ckpt_dir=tmp_path / "ckpt", live_dir=None, resume=False,
                               monitor="val/score", callbacks=[timer, default, layout])
    trainer.fit(WorseEveryEpoch(), train_dataloaders=loader(), val_dataloaders=loader())
    a = json.loads((tmp_path / "a.json").read_text())
    assert list(a) == ["epochs", "steps", "train_wall_time_s", "device", "best_val_score", "best_checkpoint", "n"]
    assert (a["epochs"], a["steps"], a["best_val_score"], a["best_checkpoint"], a["n"]) == (2, 4, 0.0, "best.ckpt", 3)
    b = json.loads((tmp_path / "b.json").read_text())
    assert list(b) == ["epochs", "twice", "device"] and b["twice"] == 8 and b["device"].startswith("cpu")
    with pytest.raises(ValueError, match="no value: \\['steps_done'\\]"):
        RunSummary(tmp_path / "c.json", timer, keys=["epochs", "steps_done"])
