"""Stage 3: train the LSTM classifier; checkpoints, dvclive curves and a run summary."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback, Timer

from kexue.params import RunParams
from kexue.run_summary import SUMMARY, RunSummary
from kexue.tasks.sentiment.data import SPLITS, VOCAB, ReviewsDataModule, load_reviews
from kexue.tasks.sentiment.model import SentimentClassifier
from kexue.tasks.sentiment.params import SentimentParams
from kexue.text.pretrained import start_from_text, start_from_vectors
from kexue.text.vocab import Vocab
from kexue.training import build_trainer, ema_callback, prepare_checkpoint_dir, run_config

log = logging.getLogger(__name__)


def member_dir(root: Path, k: int, seed: int) -> Path:
    """Where ensemble member k (trained with `seed`) keeps its files: the first in `root` itself
    (so one model is laid out as it always was), the others in `root/seed<seed>`."""
    return Path(root) if k == 0 else Path(root) / f"seed{seed}"


def train(p: SentimentParams, run: RunParams, prepared: Path, vectors: Path, models: Path, live: Path) -> None:
    """Stage 3: train the LSTM on the prepared reviews; checkpoints and a summary in `models`, curves
    in `live`. The word embeddings start from vectors learnt on the training reviews first
    (sentiment.model.pretrained: reviews), from the file `vectors` (word2vec), or random (none).
    With sentiment.train.ensemble = n, n models are trained one after another with seeds seed,
    seed + 1, ... (`member_dir`); evaluate averages them.

    Rerun after a kill with the same code, params and data, it resumes from the `last.ckpt` of the member
    it was training; members already trained are kept (also when only `ensemble` grew)."""
    prepared, models, live = Path(prepared), Path(models), Path(live)
    for k in range(p.train.ensemble):
        seed = run.seed + k
        _train_one(p, run.model_copy(update={"seed": seed}), prepared, vectors, member_dir(models, k, seed), member_dir(live, k, seed))
    # members of a larger ensemble trained before: not part of this model
    for stale in [*models.glob("seed*"), *live.glob("seed*")]:
        if stale.is_dir() and stale.name not in {f"seed{run.seed + k}" for k in range(1, p.train.ensemble)}:
            shutil.rmtree(stale)


def _train_one(p: SentimentParams, run: RunParams, prepared: Path, vectors: Path, models: Path, live: Path) -> None:
    """One model, seeded with `run.seed`, into `models` and `live`."""
    tp = p.train
    # the ensemble's size is not this member's business: growing it keeps the members trained
    settings = {"model": p.model.model_dump(), "train": tp.model_dump(exclude={"ensemble"})}
    if p.model.pretrained == "reviews":
        settings["vectors"] = p.vectors.model_dump()
    files = [prepared / f for f in [*(f"{s}.npz" for s in SPLITS), VOCAB]]
    config = run_config("sentiment-train", run, settings, files + ([Path(vectors)] if p.model.pretrained == "word2vec" else []))
    resume_from = prepare_checkpoint_dir(models, config)
    if resume_from is not None and (models / SUMMARY).is_file():
        # the summary is written when training ends, and a folder of other code, params or data is emptied first
        log.info("%s: trained already with this code, these params and data", models)
        return
    L.seed_everything(run.seed, workers=True)
    vocab = Vocab.load(prepared / VOCAB)
    module = SentimentClassifier(len(vocab), p.model.model_dump(), tp.model_dump())
    extra = {}
    if p.model.pretrained == "word2vec" and resume_from is None:
        extra = start_from_vectors(module.net.embed, vectors, vocab, "sentiment.model.embed_dim")
    elif p.model.pretrained == "reviews" and resume_from is None:
        # the training split's text, without labels (all of it, whatever train_limit): nothing of
        # validation or test is seen
        texts = load_reviews(prepared, "train")["tokens"].tolist()
        extra = start_from_text(module.net.embed, texts, vocab, run.seed, **p.vectors.model_dump())
    data = ReviewsDataModule(prepared, tp.batch_size, p.evaluate.batch_size, run.seed, tp.train_limit)
    timer = Timer()
    callbacks: list[Callback] = [timer, RunSummary(models / SUMMARY, timer, "best_val_acc", extra)]
    if tp.ema_decay > 0:
        callbacks.append(ema_callback(tp.ema_decay))
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
