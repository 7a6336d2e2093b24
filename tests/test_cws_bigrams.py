"""Character-pair features of the cws segmenter: counting, lookup, padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kexue.tasks.cws.bigrams import BigramEmbedding, count_pairs

V = 5  # character ids 0 (padding / boundary) .. 4


def test_pairs_include_boundaries_and_honour_min_count():
    # pairs: (0,2) x2, (2,3) x2, (3,0) x1, (3,4) x1, (4,0) x1
    assert count_pairs([[2, 3], [2, 3, 4]], V, min_count=2).tolist() == [0 * V + 2, 2 * V + 3]
    assert count_pairs([[2, 3], [2, 3, 4]], V, min_count=1).tolist() == [2, 13, 15, 19, 20]


def test_rows_find_kept_pairs_and_send_the_rest_to_unknown():
    emb = BigramEmbedding(V, 2, dim=3)
    emb.set_keys(np.array([2, 13]))  # (0,2) -> row 1, (2,3) -> row 2
    left, right = emb.rows(torch.tensor([[2, 3, 4]]))
    assert left.tolist() == [[1, 2, 0]]  # (0,2) (2,3) (3,4)
    assert right.tolist() == [[2, 0, 0]]  # (2,3) (3,4) (4,0)


def test_padding_does_not_change_the_real_positions():
    torch.manual_seed(0)
    emb = BigramEmbedding(V, 3, dim=4)
    emb.set_keys(count_pairs([[2, 3], [4, 2]], V, min_count=1)[:3])
    alone = emb(torch.tensor([[2, 3]]))
    padded = emb(torch.tensor([[2, 3, 0, 0], [4, 2, 3, 4]]))
    assert torch.equal(alone[0], padded[0, :2])


def test_keys_must_fit_and_be_sorted():
    emb = BigramEmbedding(V, 2, dim=3)
    with pytest.raises(ValueError, match="expected 2"):
        emb.set_keys(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="sorted"):
        emb.set_keys(np.array([13, 2]))


def test_pair_dropout_reads_pairs_as_unknown_in_training_only():
    torch.manual_seed(0)
    ids = torch.randint(1, V, (8, 200))
    keys = count_pairs(ids.tolist(), V, min_count=1)
    emb = BigramEmbedding(V, len(keys), dim=1, dropout=0.3)
    emb.set_keys(keys)
    with torch.no_grad():
        emb.embed.weight.copy_(torch.arange(len(keys) + 1, dtype=torch.float)[:, None])  # row r holds r
    known = emb.rows(ids)[0] > 0
    emb.train()
    unknown = (emb(ids)[..., 0] == 0) & known
    assert 0.25 < unknown.sum() / known.sum() < 0.35
    emb.eval()
    assert torch.equal(emb(ids)[..., 0].long(), emb.rows(ids)[0])
