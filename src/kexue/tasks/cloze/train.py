"""Stage 3: train the attention-sum reader on the generated questions; checkpoints, dvclive curves
and a run summary."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Timer

from kexue.fetch import sha256_of
from kexue.params import ParamsError, RunParams
from kexue.run_summary import SUMMARY, RunSummary
from kexue.tasks.cloze.data import SPLITS, VOCAB, QuestionsDataModule
from kexue.tasks.cloze.model import ClozeReader
from kexue.tasks.cloze.params import ClozeParams
from kexue.tasks.word2vec.vectors import load_text
from kexue.text.vocab import Vocab
from kexue.training import build_trainer, prepare_checkpoint_dir

log = logging.getLogger(__name__)


def read_vectors(path: Path, vocab: Vocab, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The word2vec task's vectors (its text format) for the words of `vocab`: a (len(vocab), dim)
    float32 array and a mask of the words found."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: missing; run the word2vec-train stage first (or set cloze.model.pretrained: none)")
    vectors = load_text(path)
    if vectors.matrix.shape[1] != dim:
        have = vectors.matrix.shape[1]
        raise ParamsError(f"cloze.model.embed_dim is {dim} but the vectors in {path} have {have} numbers; "
                          f"set cloze.model.embed_dim: {have} to start from them")
    out = np.zeros((len(vocab), dim), dtype=np.float32)
    found = np.zeros(len(vocab), dtype=bool)
    for word, row in zip(vectors.words, vectors.matrix):
        i = vocab.stoi.get(word)
        if i is not None:
            out[i], found[i] = row, True
    return out, found


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
        table, found = read_vectors(vectors, vocab, p.model.embed_dim)
        with torch.no_grad():
            weight = module.net.embed.weight
            # scale the vectors to the random init's spread, so both start on the same footing
            scale = float(weight[2:].std()) / max(float(table[found].std()), 1e-8) if found.any() else 1.0
            weight[torch.from_numpy(found)] = torch.from_numpy(table[found] * scale)
        extra = {"pretrained_words": int(found.sum()), "vocab_size": len(vocab)}
        log.info("word vectors for %d of %d words from %s", found.sum(), len(vocab), vectors)
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
