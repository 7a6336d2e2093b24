"""Stage 3: train our word2vec, then gensim's on the same tokens with the same values; export both.

gensim trains here rather than in evaluate so that both are timed the same way (training epochs
only), in one process, on the same CPU threads (`train.threads`) and minutes apart: their words/s
ratio is measured in one run. Both wall-clock and CPU time are recorded: on a machine shared with
other work the wall clock of either can stretch, while words per CPU second stays comparable.

Writes: `models` (Lightning checkpoints, which a killed run resumes from, and summary.json with
our timing), `vectors` (our word vectors, word2vec's text format: the output other tasks read) and
`reference` (gensim's vectors in the same format, and timing.json).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import lightning as L
import torch

from kexue import files
from kexue.params import RunParams
from kexue.tasks.word2vec.batches import StreamDataModule
from kexue.tasks.word2vec.data import CORPUS, VOCAB, Corpus
from kexue.tasks.word2vec.model import Word2Vec, choose_kernel
from kexue.tasks.word2vec.params import Word2VecParams
from kexue.tasks.word2vec.reference import train_gensim
from kexue.text.vectors import save_text
from kexue.training import build_trainer, device_description, prepare_checkpoint_dir, run_config

log = logging.getLogger(__name__)

SUMMARY = "summary.json"
REFERENCE_VECTORS, REFERENCE_TIMING = "vectors.txt", "timing.json"


def words_per_second(words: int, seconds: float) -> float | None:
    return round(words / seconds) if seconds > 0 else None


def train(p: Word2VecParams, run: RunParams, prepared: Path, models: Path, live: Path, vectors: Path, reference: Path) -> None:
    """Stage 3: our model on the prepared stream (checkpoints in `models`, curves in `live`, vectors
    to `vectors`), then gensim's (to `reference`). Rerun after a kill, ours resumes from `models/last.ckpt`."""
    prepared, models, reference = Path(prepared), Path(models), Path(reference)
    torch.set_num_threads(p.train.threads)
    corpus = Corpus(prepared)
    cuda = run.trainer.uses_cuda()
    kernel = choose_kernel(p.train.kernel, p.model.arch, cuda)
    config = run_config(
        "word2vec-train", run,
        {"kernel": kernel, "model": p.model.model_dump(), "train": p.train.model_dump(exclude={"gensim"})},
        [prepared / CORPUS, prepared / VOCAB],
    )
    resume_from = prepare_checkpoint_dir(models, config)
    L.seed_everything(run.seed, workers=True)
    module = Word2Vec(corpus.counts, p.model.model_dump(), p.train.model_dump(), len(corpus), run.seed, kernel)
    updates = p.train.parallel if kernel == "triton" else p.train.updates_per_step  # a step's updates (model.py)
    data = StreamDataModule(corpus, p.train.batch_words, updates, p.model.window, p.model.sample, run.seed)
    trainer, _ = build_trainer(
        run.trainer,
        max_epochs=p.train.epochs,
        ckpt_dir=models,
        live_dir=live,
        resume=resume_from is not None,
        monitor=None,  # no validation score: best.ckpt is the latest epoch (word2vec keeps its last vectors)
        # One device: the update is ours, not a gradient that DDP could average across devices.
        devices=1,
        strategy="auto",
    )
    trainer.fit(module, datamodule=data, ckpt_path=resume_from)

    summary_path = models / SUMMARY
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    if module.epoch_words:  # a rerun that found training complete keeps the timing of the run that trained
        summary = {
            "epochs": trainer.current_epoch,
            "stream_words": len(corpus),
            "timed_epochs_words": module.epoch_words,
            "train_seconds": round(module.epoch_seconds, 2),
            "cpu_seconds": round(module.epoch_cpu_seconds, 2),
            "words_per_s": words_per_second(module.epoch_words, module.epoch_seconds),
            "words_per_cpu_s": words_per_second(module.epoch_words, module.epoch_cpu_seconds),
            "device": device_description(trainer),
            "threads": p.train.threads,
            "kernel": kernel,
            "resumed": resume_from is not None,
        }
        files.write_json(summary_path, summary)
    save_text(vectors, corpus.words(), module.vectors()[2:].numpy())  # ids 0, 1 are <pad>, <unk>: never trained
    log.info("ours: %s words/s on %s -> %s", summary.get("words_per_s"), summary.get("device"), vectors)

    timing: dict[str, object] = {"trained": p.train.gensim}
    if p.train.gensim:
        ref = train_gensim(p, corpus, run.seed)
        save_text(reference / REFERENCE_VECTORS, ref.words, ref.matrix)
        timing.update(gensim=ref.version, workers=p.train.threads, train_seconds=round(ref.seconds, 2),
                      cpu_seconds=round(ref.cpu_seconds, 2), words=ref.words_trained,
                      words_per_s=words_per_second(ref.words_trained, ref.seconds),
                      words_per_cpu_s=words_per_second(ref.words_trained, ref.cpu_seconds))
    files.write_json(reference / REFERENCE_TIMING, timing)
