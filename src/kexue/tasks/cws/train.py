"""Stage 3: train the CRF segmenter; checkpoints, dvclive curves and a run summary."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback, Timer

from kexue.params import RunParams
from kexue.run_summary import SUMMARY, RunSummary
from kexue.tasks.cws.data import BIGRAMS, SPLITS, VOCAB, SentencesDataModule, load_bigrams
from kexue.tasks.cws.model import Segmenter
from kexue.tasks.cws.params import CwsParams
from kexue.text.vocab import Vocab
from kexue.training import build_trainer, ema_callback, prepare_checkpoint_dir, run_config


def train(p: CwsParams, run: RunParams, prepared: Path, models: Path, live: Path) -> None:
    """Stage 3: train the segmenter on the prepared sentences; checkpoints and a summary in `models`,
    curves in `live`. Rerun after a kill with the same code, params and data, it resumes from `models/last.ckpt`."""
    prepared, models, live = Path(prepared), Path(models), Path(live)
    tp = p.train
    config = run_config(
        "cws-train", run, {"model": p.model.model_dump(), "train": tp.model_dump()},
        [prepared / f for f in [*(f"{s}.npz" for s in SPLITS), VOCAB, BIGRAMS]],
    )
    resume_from = prepare_checkpoint_dir(models, config)
    L.seed_everything(run.seed, workers=True)
    vocab = Vocab.load(prepared / VOCAB)
    pairs = load_bigrams(prepared) if p.model.bigram_dim else []
    module = Segmenter(vocab.itos, p.model.model_dump(), tp.model_dump(), n_bigrams=len(pairs))
    if module.encoder.bigrams is not None:
        module.encoder.bigrams.set_keys(pairs)
    data = SentencesDataModule(prepared, tp.batch_size, p.evaluate.batch_size, run.seed, tp.train_limit)
    timer = Timer()
    callbacks: list[Callback] = [timer, RunSummary(models / SUMMARY, timer, "best_val_tag_acc")]
    if tp.ema_decay > 0:
        # Lightning's EMAWeightAveraging (a fixed decay, no warm-up): validation and checkpoints use the
        # averaged weights. Buffers are not averaged: the only one is the bigram key table (int64),
        # which averaging would corrupt.
        callbacks.append(ema_callback(tp.ema_decay, warmup=False, use_buffers=False))
    trainer, _ = build_trainer(
        run.trainer,
        max_epochs=tp.epochs,
        ckpt_dir=models,
        live_dir=live,
        resume=resume_from is not None,
        monitor="val/tag_acc",
        callbacks=callbacks,
    )
    trainer.fit(module, datamodule=data, ckpt_path=resume_from)
