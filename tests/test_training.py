"""build_trainer's checkpoints: `last.ckpt` follows every epoch, `best.ckpt` only the best score."""

from __future__ import annotations

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
