"""The GPU word2vec kernel (hogwild.py) against word2vec.c's update written out in numpy, pair by
pair: the same tables and loss to float32 rounding. Runs on a CUDA device, or in Triton's
interpreter on the CPU where Triton is installed (it comes with torch's CUDA builds; a CPU-only
install skips these tests)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kexue.errors import InputError
from kexue.tasks.word2vec import hogwild
from kexue.tasks.word2vec.model import choose_kernel

needs_triton = pytest.mark.skipif(not hogwild.available(), reason="Triton is not installed (CPU-only torch)")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def reference(ids, sentence, reach, noise, w_in, w_out, starts, ends, alpha0, alpha1, base, span, total, window):
    """word2vec.c's skip-gram loop, program after program, except that a pair's target rows are read
    before its updates (as the kernel does; they differ where a noise word repeats within a pair).
    Returns the tables, the loss sum and the pairs."""
    w_in, w_out = w_in.copy(), w_out.copy()
    loss, pairs, n = 0.0, 0, len(ids)
    for start, end in zip(starts, ends):
        for i in range(start, end):
            frac = (i - start) / max(end - start, 1)
            alpha = alpha0 - (alpha0 - alpha1) * min((base + frac * span) / total, 1.0)
            for o in range(2 * window):
                dist = window - o if o < window else o - window + 1
                pos = i - dist if o < window else i + dist
                if not (0 <= pos < n and dist <= reach[i] and sentence[pos] == sentence[i]):
                    continue
                h, neu = w_in[ids[pos]].copy(), np.zeros_like(w_in[0])
                targets = [ids[i]] + list(noise[i] if noise.ndim == 2 else noise[i, o])
                rows = w_out[targets].copy()  # gather: the pair's target rows as they were before its updates
                for k, t in enumerate(targets):
                    if k > 0 and t == ids[i]:
                        continue
                    u = rows[k]
                    label = 1.0 if k == 0 else 0.0
                    score = float(h @ u)
                    g = (label - 1 / (1 + np.exp(-score))) * alpha
                    neu += g * u
                    w_out[t] += g * h
                    loss += np.log1p(np.exp(-score if k == 0 else score))
                w_in[ids[pos]] += neu
                pairs += 1
    return w_in, w_out, loss, pairs


def case(shared: bool, programs: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    n, vocab, dim, window, negative = 90, 12, 10, 3, 4  # dim 10: the kernel's block of 16 is masked
    ids = rng.integers(0, vocab, n)  # a small vocabulary: words repeat within windows and as noise
    sentence = np.repeat(np.arange(n // 15), 15)
    reach = rng.integers(1, window + 1, n)
    noise = rng.integers(0, vocab, (n, negative) if shared else (n, 2 * window, negative))
    w_in = ((rng.random((vocab, dim)) - 0.5) / dim).astype(np.float32)
    w_out = (rng.normal(size=(vocab, dim)) * 0.1).astype(np.float32)
    cuts = np.linspace(3, n - 3, programs + 1).astype(np.int64)  # margins on both sides, as the stream's steps
    return ids, sentence, reach, noise, w_in, w_out, cuts[:-1], cuts[1:], window


@needs_triton
@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("programs", [1, 3])
def test_kernel_is_word2vec_update_pair_by_pair(shared, programs):
    if programs > 1 and DEVICE == "cuda":
        pytest.skip("programs race on a GPU (Hogwild); the interpreter runs them one after another")
    ids, sentence, reach, noise, w_in, w_out, starts, ends, window = case(shared, programs)
    schedule = dict(alpha0=0.5, alpha1=0.01, base=1000, span=400, total=2000)  # large steps: every update matters
    want_in, want_out, want_loss, want_pairs = reference(ids, sentence, reach, noise, w_in, w_out, starts, ends,
                                                         window=window, **schedule)
    t = lambda a, dtype=torch.int64: torch.tensor(a, dtype=dtype, device=DEVICE)
    got_in, got_out = t(w_in, torch.float32), t(w_out, torch.float32)
    loss = hogwild.skipgram(t(ids), t(sentence, torch.int32), t(reach), t(noise), got_in, got_out, t(starts), t(ends),
                            schedule["alpha0"], schedule["alpha1"], schedule["base"], schedule["span"], schedule["total"], window)
    assert want_pairs > 50 and not np.allclose(want_in, w_in)  # the case trains something
    np.testing.assert_allclose(got_in.cpu().numpy(), want_in, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got_out.cpu().numpy(), want_out, rtol=1e-4, atol=1e-6)
    assert loss[1].item() == want_pairs and loss[0].item() == pytest.approx(want_loss, rel=1e-4)


def test_kernel_choice(monkeypatch):
    assert choose_kernel("torch", "sg", cuda=True) == "torch"
    assert choose_kernel("auto", "sg", cuda=False) == "torch"
    assert choose_kernel("auto", "cbow", cuda=True) == "torch"
    assert choose_kernel("auto", "sg", cuda=True) == ("triton" if hogwild.available() else "torch")
    with pytest.raises(InputError, match="triton trains skip-gram only"):
        choose_kernel("triton", "cbow", cuda=True)
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    # without Triton: install it; with it but no GPU: use kernel torch on the CPU
    with pytest.raises(InputError, match="kernel: triton (needs the triton package|runs on a CUDA device)"):
        choose_kernel("triton", "sg", cuda=False)


@needs_triton
def test_training_with_the_kernel_learns_the_stream():
    """The module with kernel triton, through Lightning: each word 2k is followed by 2k + 1, so the
    pairs' loss falls epoch after epoch."""
    import lightning as L
    from types import SimpleNamespace

    from kexue.tasks.word2vec.batches import StreamDataModule
    from kexue.tasks.word2vec.model import Word2Vec

    rng = np.random.default_rng(0)
    firsts = rng.integers(1, 8, 200) * 2  # word ids 2..17, in ten-word sentences
    ids = np.stack([firsts, firsts + 1], 1).reshape(-1)
    counts = np.bincount(ids, minlength=18)
    corpus = SimpleNamespace(ids=ids, counts=counts, sentence_ids=lambda: np.arange(len(ids), dtype=np.int32) // 10)
    model = {"arch": "sg", "dim": 8, "window": 1, "negative": 2, "ns_exponent": 0.75, "sample": 0.0, "cbow_mean": True,
             "shared_noise": True}
    train = {"epochs": 3, "alpha": 0.1, "min_alpha": 0.01, "batch_words": 100, "updates_per_step": 1, "parallel": 2}
    module = Word2Vec(counts, model, train, len(ids), seed=0, kernel="triton")
    losses = []

    class Record(L.Callback):  # the module logs its loss after the callbacks' epoch end: read it at the next hook
        def on_train_epoch_start(self, trainer, pl_module):
            if trainer.current_epoch > 0:
                losses.append(float(trainer.callback_metrics["train/loss"]))

        def on_train_end(self, trainer, pl_module):
            losses.append(float(trainer.callback_metrics["train/loss"]))

    trainer = L.Trainer(accelerator=DEVICE, devices=1, max_epochs=3, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[Record()])
    before = module.vectors().clone()
    trainer.fit(module, datamodule=StreamDataModule(corpus, 100, 2, 1, 0.0, seed=0))
    assert len(losses) == 3 and losses[2] < losses[0] < 6 * np.log(2) and not torch.equal(module.vectors(), before)
