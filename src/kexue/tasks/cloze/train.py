"""Stage 3: train the attention-sum reader on the generated questions; checkpoints, dvclive curves
and a run summary."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Timer

from kexue.fetch import sha256_of
from kexue.params import RunParams
from kexue.run_summary import SUMMARY, RunSummary
from kexue.tasks.cloze.data import SPLITS, VOCAB, QuestionsDataModule
from kexue.tasks.cloze.model import ClozeReader
from kexue.tasks.cloze.params import ClozeParams
from kexue.text.pretrained import start_from_vectors
from kexue.text.vocab import Vocab
from kexue.training import build_trainer, prepare_checkpoint_dir


def train(p: ClozeParams, run: RunParams, prepared: Path, vectors: Path, models: Path, live: Path) -> None:
    """Stage 3: train the reader on the prepared questions (word vectors from `vectors` when
    cloze.model.pretrained is word2vec); checkpoints and a summary in `models`, curves in `live`.
    Rerun after a kill with the same params and data, it resumes from `models/last.ckpt`."""
    prepared, models, live = Path(prepared), Path(models), Path(live)
    tp = p.train
    inputs = [*(f"{s}.npz" for s in SPLITS), VOCAB]
    config = {
        "seed": run.seed,
        "trainer": run.trainer.model_dump(),
        "model": p.model.model_dump(),
        "train": tp.model_dump(),
        "data": {f: sha256_of(prepared / f) for f in inputs if (prepared / f).exists()},
    }
    if p.model.pretrained == "word2vec":
        config["vectors"] = sha256_of(vectors) if Path(vectors).is_file() else None
    resume_from = prepare_checkpoint_dir(models, config)
    L.seed_everything(run.seed, workers=True)
    vocab = Vocab.load(prepared / VOCAB)
    module = ClozeReader(len(vocab), p.model.model_dump(), tp.model_dump())
    extra = {}
    if p.model.pretrained == "word2vec" and resume_from is None:
        extra = start_from_vectors(module.net.embed, vectors, vocab, "cloze.model.embed_dim")
    data = QuestionsDataModule(prepared, tp.batch_size, p.evaluate.batch_size, run.seed, tp.train_limit)
    timer = Timer()
    trainer, _ = build_trainer(
        run.trainer,
        max_epochs=tp.epochs,
        ckpt_dir=models,
        live_dir=live,
        resume=resume_from is not None,
        monitor="val/acc",
        callbacks=[timer, RunSummary(models / SUMMARY, timer, "best_val_acc", extra)],
    )
    trainer.fit(module, datamodule=data, ckpt_path=resume_from)
