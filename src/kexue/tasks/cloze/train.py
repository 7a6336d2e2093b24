"""Stage 3: train the attention-sum reader on the generated questions (or, `model.reader: passage`,
on the training documents with blanks drawn anew every epoch); checkpoints, dvclive curves and a run
summary."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Timer

from kexue.params import RunParams
from kexue.run_summary import SUMMARY, RunSummary
from kexue.tasks.cloze.data import SPLITS, VOCAB, QuestionsDataModule, load_split
from kexue.tasks.cloze.model import ClozeReader
from kexue.tasks.cloze.params import ClozeParams
from kexue.tasks.cloze.passages import PASSAGES, sentences
from kexue.text.pretrained import start_from_text, start_from_vectors
from kexue.text.vocab import Vocab
from kexue.training import build_trainer, prepare_checkpoint_dir, run_config


def train(p: ClozeParams, run: RunParams, prepared: Path, vectors: Path, models: Path, live: Path) -> None:
    """Stage 3: train the reader on the prepared questions (word vectors from `vectors` when
    cloze.model.pretrained is word2vec, learnt on the training documents when it is documents);
    checkpoints and a summary in `models`, curves in `live`.
    Rerun after a kill with the same code, params and data, it resumes from `models/last.ckpt`."""
    prepared, models, live = Path(prepared), Path(models), Path(live)
    tp = p.train
    passage = p.model.reader == "passage"
    inputs = [*(f"{s}.npz" for s in SPLITS), VOCAB, *([f"{PASSAGES}.npz"] if passage or p.model.pretrained == "documents" else [])]
    settings = {"model": p.model.model_dump(), "train": tp.model_dump()}
    if p.model.pretrained == "documents":
        settings["vectors"] = p.vectors.model_dump()
    files = [prepared / f for f in inputs] + ([Path(vectors)] if p.model.pretrained == "word2vec" else [])
    config = run_config("cloze-train", run, settings, files)
    resume_from = prepare_checkpoint_dir(models, config)
    L.seed_everything(run.seed, workers=True)
    vocab = Vocab.load(prepared / VOCAB)
    module = ClozeReader(len(vocab), p.model.model_dump(), tp.model_dump())
    extra = {}
    if p.model.pretrained == "word2vec" and resume_from is None:
        extra = start_from_vectors(module.net.embed, vectors, vocab, "cloze.model.embed_dim")
    elif p.model.pretrained == "documents" and resume_from is None:
        # the training documents' own words, before any blank or placeholder: no question of
        # validation or evaluation is seen
        texts = sentences(load_split(prepared, PASSAGES))
        extra = start_from_text(module.net.embed, texts, vocab, run.seed, **p.vectors.model_dump())
    data = QuestionsDataModule(prepared, tp.batch_size, p.evaluate.batch_size, run.seed, tp.train_limit,
                               blanks=tp.blanks if passage else 0)
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
