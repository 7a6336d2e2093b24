"""Stage 3: train the LSTM classifier; checkpoints, dvclive curves and a run summary."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback, Timer

from kexue import files
from kexue.fetch import sha256_of
from kexue.params import RunParams
from kexue.tasks.sentiment.data import SPLITS, VOCAB, ReviewsDataModule
from kexue.tasks.sentiment.model import SentimentClassifier
from kexue.tasks.sentiment.params import SentimentParams
from kexue.text.pretrained import init_embedding, read_vectors
from kexue.text.vocab import Vocab
from kexue.training import build_trainer, device_description, ema_callback, prepare_checkpoint_dir

SUMMARY = "summary.json"

log = logging.getLogger(__name__)


class WriteSummary(Callback):
    def __init__(self, path: Path, timer: Timer, extra: dict | None = None) -> None:
        self.path, self.timer, self.extra = Path(path), timer, extra or {}

    def on_train_end(self, trainer: L.Trainer, pl_module: SentimentClassifier) -> None:
        if trainer.is_global_zero:
            ckpt = trainer.checkpoint_callback
            files.write_json(self.path, {
                "epochs": trainer.current_epoch,
                "steps": trainer.global_step,
                "train_wall_time_s": round(self.timer.time_elapsed("train") + self.timer.time_elapsed("validate"), 1),
                "device": device_description(trainer),
                "best_val_acc": float(ckpt.best_model_score) if ckpt and ckpt.best_model_score is not None else None,
                **self.extra,
            })


def train(p: SentimentParams, run: RunParams, prepared: Path, vectors: Path, models: Path, live: Path) -> None:
    """Stage 3: train the LSTM on the prepared reviews (word vectors from `vectors` when
    sentiment.model.pretrained is word2vec); checkpoints and a summary in `models`, curves in `live`.

    Rerun after a kill with the same params and data, it resumes from `models/last.ckpt`."""
    prepared, models, live = Path(prepared), Path(models), Path(live)
    tp = p.train
    config = {
        "seed": run.seed,
        "trainer": run.trainer.model_dump(),
        "model": p.model.model_dump(),
        "train": tp.model_dump(),
        "data": {f: sha256_of(prepared / f) for f in [*(f"{s}.npz" for s in SPLITS), VOCAB] if (prepared / f).exists()},
    }
    if p.model.pretrained == "word2vec":
        config["vectors"] = sha256_of(vectors) if Path(vectors).is_file() else None
    resume_from = prepare_checkpoint_dir(models, config)
    L.seed_everything(run.seed, workers=True)
    vocab = Vocab.load(prepared / VOCAB)
    module = SentimentClassifier(len(vocab), p.model.model_dump(), tp.model_dump())
    extra = {}
    if p.model.pretrained == "word2vec" and resume_from is None:
        table, found = read_vectors(vectors, vocab, p.model.embed_dim, "sentiment.model.embed_dim")
        init_embedding(module.net.embed.weight, table, found)
        extra = {"pretrained_words": int(found.sum()), "vocab_size": len(vocab)}
        log.info("word vectors for %d of %d words from %s", found.sum(), len(vocab), vectors)
    data = ReviewsDataModule(prepared, tp.batch_size, p.evaluate.batch_size, run.seed, tp.train_limit)
    timer = Timer()
    callbacks: list[Callback] = [timer, WriteSummary(models / SUMMARY, timer, extra)]
    if tp.ema:
        callbacks.append(ema_callback(tp.ema))
    trainer, _ = build_trainer(
        run.trainer,
        max_epochs=tp.epochs,
        ckpt_dir=models,
        live_dir=live,
        resume=resume_from is not None,
        monitor="val/acc",
        callbacks=callbacks,
    )
    trainer.fit(module, datamodule=data, ckpt_path=resume_from)
