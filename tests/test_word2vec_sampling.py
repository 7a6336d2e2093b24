"""word2vec sampling and update: the noise distribution, subsampling, windows at sentence edges,
steps that cover the stream, the update against autograd, the learning-rate decay, and learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kexue.tasks.word2vec.batches import SubsampledStream
from kexue.tasks.word2vec.model import Word2Vec
from kexue.tasks.word2vec.params import Word2VecParams
from kexue.tasks.word2vec.sampling import cbow_contexts, draw_noise, keep_probability, noise_table, skipgram_pairs

TOY_COUNTS = np.array([0, 0, 1000, 400, 90, 30, 7, 1])  # ids 0, 1 stand for <pad>, <unk>: never in the stream


def test_noise_table_follows_unigram_power():
    accept, alias = noise_table(TOY_COUNTS, 0.75)
    want = np.where(TOY_COUNTS > 0, TOY_COUNTS ** 0.75, 0.0)
    want /= want.sum()
    # The table's exact distribution: slot i gives i with P(accept_i), else alias_i.
    n = len(accept)
    exact = np.bincount(np.arange(n), weights=accept.double().numpy(), minlength=n)
    exact += np.bincount(alias.numpy(), weights=1 - accept.double().numpy(), minlength=n)
    assert np.allclose(exact / n, want, atol=1e-6)
    # and what it draws
    draws = draw_noise(accept, alias, (400_000,), torch.Generator().manual_seed(0)).numpy()
    freq = np.bincount(draws, minlength=n) / len(draws)
    assert freq[0] == freq[1] == 0.0
    assert np.all(np.abs(freq - want) < 4 * np.sqrt(want * (1 - want) / len(draws)) + 1e-9), (freq, want)
    # 0.75 flattens: the rarest word gets more than its unigram share, the most frequent less
    unigram = TOY_COUNTS / TOY_COUNTS.sum()
    assert freq[7] > 3 * unigram[7] and freq[2] < unigram[2]


def test_subsampling_keeps_rare_words_and_thins_frequent_ones():
    counts = np.array([0, 0, 50_000, 5_000, 300, 20, 5])
    keep = keep_probability(counts, sample=1e-3)  # threshold t: 0.001 * 55,325 ~ 55 occurrences
    assert keep[5] == keep[6] == 1.0  # rare words (up to ~2.6 t occurrences): always kept
    assert keep[2] < keep[3] < keep[4] < 1.0 and keep[2] < 0.05
    # word2vec.c's formula, for the most frequent word
    f = 50_000 / counts.sum()
    assert keep[2] == pytest.approx((np.sqrt(f / 1e-3) + 1) * 1e-3 / f)
    assert np.all(keep_probability(counts, sample=0) == 1.0)
    # and in the stream: every occurrence of the rare words survives every epoch
    rng = np.random.default_rng(0)
    ids = rng.choice(len(counts), size=20_000, p=counts / counts.sum()).astype(np.int32)
    stream = SubsampledStream(ids, np.zeros(len(ids), np.int32), keep, batch_words=1000, window=2, seed=0)
    for epoch in range(3):
        stream[(epoch, 0)]
        kept = stream.kept_ids.numpy()
        for rare in (5, 6):
            assert (kept == rare).sum() == (ids == rare).sum()
        assert (kept == 2).sum() < 0.1 * (ids == 2).sum()


# Two sentences, [10 11 12] and [13 14], then a one-word sentence [15].
IDS = torch.tensor([10, 11, 12, 13, 14, 15])
SENTENCE = torch.tensor([0, 0, 0, 1, 1, 2])


def test_skipgram_windows_stop_at_sentence_edges():
    # window 1: the drawn window is always 1, so the pairs are exact
    centre, context = skipgram_pairs(IDS, SENTENCE, 0, 6, window=1)
    assert sorted(zip(centre.tolist(), context.tolist())) == [
        (10, 11), (11, 10), (11, 12), (12, 11), (13, 14), (14, 13)]
    # window 3, many draws: never across a sentence, every in-sentence pair within reach seen, and
    # the drawn window is uniform in 1..3 (distance-2 pairs come 2/3 as often as distance-1 pairs)
    g = torch.Generator().manual_seed(0)
    seen: dict[tuple[int, int], int] = {}
    for _ in range(600):
        for c, x in zip(*(t.tolist() for t in skipgram_pairs(IDS, SENTENCE, 0, 6, 3, g))):
            seen[(c, x)] = seen.get((c, x), 0) + 1
    assert set(seen) == {(10, 11), (10, 12), (11, 10), (11, 12), (12, 10), (12, 11), (13, 14), (14, 13)}
    assert seen[(10, 12)] / seen[(10, 11)] == pytest.approx(2 / 3, abs=0.08)


def test_cbow_contexts_stop_at_sentence_edges_and_skip_lonely_words():
    centre, context, count = cbow_contexts(IDS, SENTENCE, 0, 6, window=1)
    assert centre.tolist() == [10, 11, 12, 13, 14]  # 15 has no context in its sentence: left out
    assert count.tolist() == [1, 2, 1, 1, 1]
    assert context.tolist() == [11, 10, 12, 11, 14, 13]
    # a stretch of the stream: centres 3..4 only, their contexts still from the whole stretch
    centre, context, count = cbow_contexts(IDS, SENTENCE, 3, 5, window=2)
    assert centre.tolist() == [13, 14] and context.tolist() == [14, 13]


def test_steps_cover_each_kept_word_once_with_whole_windows():
    rng = np.random.default_rng(1)
    n = 5_000
    ids = rng.integers(2, 60, n).astype(np.int32)
    sentence = np.cumsum(rng.random(n) < 0.1).astype(np.int32)
    keep = np.full(60, 0.7)
    stream = SubsampledStream(ids, sentence, keep, batch_words=333, window=1, seed=3, updates_per_step=4)
    assert stream.steps == -(-n // (4 * 333))
    pairs, centres = [], 0
    for k in range(stream.steps):
        b = stream[(2, k)]
        assert len(b["cuts"]) == (5 if k < stream.steps - 1 else 1 + -(-(n - k * 4 * 333) // 333))
        for first, last in zip(b["cuts"][:-1], b["cuts"][1:]):
            c, x = skipgram_pairs(b["ids"], b["sentence"], first, last, 1)
            pairs += list(zip(c.tolist(), x.tolist()))
            centres += last - first
    whole_ids, whole_sentence = stream.kept_ids, stream.kept_sentence
    assert centres == len(whole_ids)
    c, x = skipgram_pairs(whole_ids, whole_sentence, 0, len(whole_ids), 1)
    assert sorted(pairs) == sorted(zip(c.tolist(), x.tolist()))
    # the same epoch subsamples the same way again; another epoch differently
    before = whole_ids.clone()
    stream[(3, 0)]
    assert not torch.equal(stream.kept_ids, before)
    stream[(2, 0)]
    assert torch.equal(stream.kept_ids, before)


def _module(arch: str = "sg", shared: bool = True, **train) -> Word2Vec:
    p = Word2VecParams.model_validate({"model": {"arch": arch, "dim": 8, "window": 2, "negative": 3, "shared_noise": shared},
                                       "train": {"epochs": 2, "alpha": 0.1, "min_alpha": 0.001, **train}})
    return Word2Vec(TOY_COUNTS, p.model.model_dump(), p.train.model_dump(), stream_words=1000, seed=0)


def test_learning_rate_decays_linearly_over_all_epochs():
    m = _module()
    assert m.learning_rate(0) == pytest.approx(0.1)
    assert m.learning_rate(1000) == pytest.approx((0.1 + 0.001) / 2)  # end of epoch 1 of 2
    assert m.learning_rate(2000) == pytest.approx(0.001)


def test_update_is_sgd_on_the_negative_sampling_loss():
    """update_output's closed form equals -alpha times autograd's gradient of the loss
    sum over valid (input, target) pairs of -log sigmoid(+-h.u), noise equal to the target skipped."""
    m = _module()
    torch.manual_seed(0)
    m.w_out.data.normal_(0, 0.3)
    h = torch.randn(4, 3, 8)
    valid = torch.tensor([[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 1, 1]], dtype=torch.bool)
    targets = torch.tensor([[2, 3, 4, 5], [3, 3, 6, 7], [4, 2, 2, 5], [6, 7, 2, 3]])  # row 1: noise 3 = target
    w_out, hh = m.w_out.detach().clone().requires_grad_(), h.clone().requires_grad_()
    score = torch.einsum("mcd,mkd->mck", hh, w_out[targets])
    sign = torch.tensor([1.0, -1, -1, -1])
    weight = valid[:, :, None].float() * torch.cat([torch.ones(4, 1), (targets[:, 1:] != targets[:, :1]).float()], 1)[:, None, :]
    (-(F.logsigmoid(sign * score) * weight).sum()).backward()
    alpha = 0.05
    before = m.w_out.detach().clone()
    grad_h, loss = m.update_output(h, valid, targets, alpha)
    assert torch.allclose(m.w_out - before, -alpha * w_out.grad, atol=1e-6)
    assert torch.allclose(grad_h[valid], -alpha * hh.grad[valid], atol=1e-6)


@pytest.mark.parametrize("arch,shared", [("sg", True), ("sg", False), ("cbow", True)])
def test_it_learns_which_words_go_together(arch, shared):
    """Sentences drawn from one of two topics (40 words each): after training, words of a topic
    are closer to each other than to the other topic's. (Small steps: with a vocabulary this small,
    large ones would sum dozens of updates of one word and diverge: README.)"""
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 9, 4000)
    topic = rng.integers(0, 2, len(lengths))
    ids = np.concatenate([rng.integers(2 + 40 * t, 42 + 40 * t, n) for t, n in zip(topic, lengths)]).astype(np.int32)
    sentence = np.repeat(np.arange(len(lengths)), lengths).astype(np.int32)
    counts = np.bincount(ids, minlength=82)
    p = Word2VecParams.model_validate({"model": {"arch": arch, "dim": 16, "window": 3, "negative": 5, "sample": 0, "shared_noise": shared},
                                       "train": {"epochs": 3, "alpha": 0.025}})
    m = Word2Vec(counts, p.model.model_dump(), p.train.model_dump(), stream_words=len(ids), seed=0)
    stream = SubsampledStream(ids, sentence, keep_probability(counts, 0), 100, 3, seed=0, updates_per_step=5)
    for epoch in range(3):
        m.generator = torch.Generator().manual_seed(epoch)
        for k in range(stream.steps):
            b = stream[(epoch, k)]
            for j, (first, last) in enumerate(zip(b["cuts"][:-1], b["cuts"][1:])):
                m.sgd_step(b["ids"], b["sentence"], first, last, m.learning_rate(epoch * len(ids) + b["start"] + 100 * j))
    v = F.normalize(m.vectors()[2:], dim=1)
    sim = v @ v.T
    topics = torch.block_diag(torch.ones(40, 40), torch.ones(40, 40)).bool()
    same, other = sim[topics & ~torch.eye(80, dtype=torch.bool)].mean(), sim[~topics].mean()
    assert same > other + 0.3, (same, other)
