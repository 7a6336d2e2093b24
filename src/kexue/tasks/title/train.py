"""Stage 3: train the title writer with teacher forcing; checkpoints, dvclive curves and a run summary."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Timer

from kexue.params import RunParams
from kexue.run_summary import SUMMARY, RunSummary
from kexue.tasks.title.data import SPLITS, VOCAB, PairsDataModule
from kexue.tasks.title.model import TitleWriter
from kexue.tasks.title.params import TitleParams
from kexue.text.vocab import Vocab
from kexue.training import build_trainer, prepare_checkpoint_dir, run_config

VAL_BATCH = 100  # validation pairs decoded together; fixed here so that title.evaluate stays evaluate's alone


def train(p: TitleParams, run: RunParams, prepared: Path, models: Path, live: Path) -> None:
    """Stage 3: train on the prepared pairs; checkpoints (`best.ckpt` by validation ROUGE-L of greedy
    titles) and a summary in `models`, curves in `live`. Rerun after a kill with the same code, params
    and data, it resumes from `models/last.ckpt`."""
    prepared, models, live = Path(prepared), Path(models), Path(live)
    tp = p.train
    config = run_config(
        "title-train", run, {"model": p.model.model_dump(), "train": tp.model_dump()},
        [prepared / f for f in [*(f"{s}.jsonl" for s in SPLITS if s != "test"), VOCAB]],
    )
    resume_from = prepare_checkpoint_dir(models, config)
    L.seed_everything(run.seed, workers=True)
    if not (prepared / VOCAB).is_file():
        raise FileNotFoundError(f"{prepared / VOCAB}: missing; run the title-preprocess stage first")
    vocab = Vocab.load(prepared / VOCAB)
    module = TitleWriter(vocab.itos, p.model.model_dump(), tp.model_dump())
    data = PairsDataModule(prepared, vocab, tp.batch_size, p.model.max_source, tp.max_title,
                           VAL_BATCH, run.seed, tp.train_limit)
    timer = Timer()
    trainer, _ = build_trainer(
        run.trainer,
        max_epochs=tp.epochs,
        ckpt_dir=models,
        live_dir=live,
        resume=resume_from is not None,
        monitor="val/rougeL",
        callbacks=[timer, RunSummary(models / SUMMARY, timer, "best_val_rougeL")],
        gradient_clip_val=tp.clip or None,
    )
    trainer.fit(module, datamodule=data, ckpt_path=resume_from)
