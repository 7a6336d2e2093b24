"""The CRF layer against brute force: every tag path of a tiny case enumerated."""

from __future__ import annotations

import itertools

import pytest
import torch

from kexue.nn.crf import CRF

K, T = 3, 4


@pytest.fixture
def crf() -> CRF:
    torch.manual_seed(0)
    layer = CRF(K)
    with torch.no_grad():  # scores of a useful size, not the tiny initial ones
        layer.transitions.normal_()
        layer.start.normal_()
        layer.end.normal_()
    return layer


def brute_scores(crf: CRF, emissions: torch.Tensor, length: int) -> dict[tuple[int, ...], float]:
    """Score of every path of `length` tags for one sequence (emissions (T, K)), by the definition."""
    out = {}
    for path in itertools.product(range(K), repeat=length):
        s = crf.start[path[0]] + crf.end[path[-1]] + sum(emissions[t, k] for t, k in enumerate(path))
        s = s + sum(crf.transitions[a, b] for a, b in zip(path, path[1:]))
        out[path] = float(s.detach())
    return out


def test_log_partition_and_path_score_match_enumeration(crf):
    emissions = torch.randn(2, T, K)
    tags = torch.randint(0, K, (2, T))
    log_z = crf.log_partition(emissions)
    scores = crf.path_score(emissions, tags)
    for b in range(2):
        brute = brute_scores(crf, emissions[b], T)
        assert log_z[b].item() == pytest.approx(torch.logsumexp(torch.tensor(list(brute.values())), 0).item(), abs=1e-5)
        assert scores[b].item() == pytest.approx(brute[tuple(tags[b].tolist())], abs=1e-5)
    # so the likelihood is a proper distribution: exp(-nll) summed over all paths is 1
    total = sum(torch.exp(-crf.nll(emissions[:1], torch.tensor([p]))).item() for p in itertools.product(range(K), repeat=T))
    assert total == pytest.approx(1.0, abs=1e-5)


def test_viterbi_is_the_brute_force_argmax(crf):
    emissions = torch.randn(5, T, K)
    for b, path in enumerate(crf.decode(emissions)):
        brute = brute_scores(crf, emissions[b], T)
        assert tuple(path) == max(brute, key=brute.get)


def test_masking_ignores_padding(crf):
    lengths = [4, 2, 1]
    emissions = torch.randn(3, T, K)
    mask = torch.arange(T).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    tags = torch.randint(0, K, (3, T))
    noisy = emissions.clone()
    noisy[~mask] = 100.0  # garbage on the padding must change nothing
    noisy_tags = tags.clone()
    noisy_tags[~mask] = 0
    log_z, scores, paths = crf.log_partition(noisy, mask), crf.path_score(noisy, noisy_tags, mask), crf.decode(noisy, mask)
    for b, n in enumerate(lengths):
        one = emissions[b : b + 1, :n]
        assert log_z[b].item() == pytest.approx(crf.log_partition(one).item(), abs=1e-5)
        assert scores[b].item() == pytest.approx(crf.path_score(one, tags[b : b + 1, :n]).item(), abs=1e-5)
        assert paths[b] == crf.decode(one)[0]
        assert len(paths[b]) == n


def test_training_the_layer_learns_transitions():
    """Emissions carry no information; the gold paths alternate 0,1,0,1: only transitions can learn it."""
    torch.manual_seed(0)
    crf = CRF(2)
    opt = torch.optim.Adam(crf.parameters(), lr=0.1)
    emissions = torch.zeros(8, 6, 2)
    gold = torch.tensor([[0, 1, 0, 1, 0, 1]] * 8)
    for _ in range(100):
        loss = crf.nll(emissions, gold).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert crf.decode(emissions[:1])[0] == [0, 1, 0, 1, 0, 1]


def test_bad_shapes_are_named():
    crf = CRF(3)
    with pytest.raises(ValueError, match="emissions must be"):
        crf.log_partition(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="mask shape"):
        crf.log_partition(torch.zeros(2, 4, 3), torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="at least one real position"):
        crf.log_partition(torch.zeros(2, 4, 3), torch.zeros(2, 4, dtype=torch.bool))
