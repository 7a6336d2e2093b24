"""sentiment model: learning, saliency sign and padding, the predict command's errors, the stages."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest
import torch

from kexue.tasks.sentiment.model import SentimentClassifier
from kexue.tasks.sentiment.params import SentimentParams
from kexue.tasks.sentiment.predict import main as predict_main
from kexue.text.batching import pad_batch

GOOD, BAD = 2, 3  # token ids: 0 pad, 1 unk, 4.. neutral filler


def _synthetic(n: int, seed: int, neutral: bool = True) -> tuple[list[list[int]], torch.Tensor]:
    """Reviews of filler words with one GOOD (label 1) or one BAD (label 0) word somewhere; with
    `neutral`, a third of them have neither and a random label, so that without its GOOD or BAD
    word a review is a coin toss to the model (P ~ 0.5)."""
    g = torch.Generator().manual_seed(seed)
    seqs, labels = [], []
    for _ in range(n):
        label = int(torch.randint(0, 2, (1,), generator=g))
        filler = (torch.randint(4, 20, (int(torch.randint(3, 12, (1,), generator=g)),), generator=g)).tolist()
        if not neutral or int(torch.randint(0, 3, (1,), generator=g)) > 0:
            filler.insert(int(torch.randint(0, len(filler) + 1, (1,), generator=g)), GOOD if label else BAD)
        seqs.append(filler)
        labels.append(label)
    return seqs, torch.tensor(labels)


@pytest.fixture(scope="module")
def trained() -> SentimentClassifier:
    L.seed_everything(0)
    p = SentimentParams.model_validate({"model": {"embed_dim": 16, "hidden": 16, "dropout": 0.0}, "train": {"lr": 0.01}})
    module = SentimentClassifier(20, p.model.model_dump(), p.train.model_dump())
    seqs, y = _synthetic(768, 0)
    opt = torch.optim.Adam(module.parameters(), lr=0.01)
    module.train()
    for epoch in range(8):
        for i in range(0, len(seqs), 64):
            ids, lengths = pad_batch(seqs[i : i + 64])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(module(ids, lengths), y[i : i + 64].float())
            opt.zero_grad()
            loss.backward()
            opt.step()
    return module.eval()


def test_it_learns_the_synthetic_task(trained):
    seqs, y = _synthetic(200, 1, neutral=False)
    acc = ((trained.probability(seqs) >= 0.5).long() == y).float().mean()
    assert acc > 0.95


def test_saliency_has_the_documented_sign(trained):
    seqs, _ = _synthetic(100, 2, neutral=False)
    scores: dict[str, list[float]] = {"good": [], "bad": [], "filler": []}
    for seq in seqs:
        p, sal = trained.saliency(seq)
        assert len(sal) == len(seq)
        for token, s in zip(seq, sal):
            scores["good" if token == GOOD else "bad" if token == BAD else "filler"].append(s)
    mean = {k: sum(v) / len(v) for k, v in scores.items()}
    mean_abs_filler = sum(abs(s) for s in scores["filler"]) / len(scores["filler"])
    # GOOD pushes towards positive (removing it lowers P): positive saliency; BAD negative;
    # the filler the model learnt to ignore scores far less than either.
    assert mean["good"] > 0.05 and mean["bad"] < -0.05, mean
    assert mean_abs_filler < 0.2 * min(mean["good"], -mean["bad"]), (mean, mean_abs_filler)
    # and the definition, checked directly: saliency_i = P(review) - P(review without word i)
    seq = seqs[0]
    p, sal = trained.saliency(seq)
    without = trained.probability([seq[:k] + seq[k + 1 :] for k in range(len(seq))])
    assert torch.allclose(torch.tensor(sal), p - without, atol=1e-6)


def test_padding_changes_nothing(trained):
    seq = [5, 6, GOOD, 7]
    alone = trained.probability([seq])
    with_longer = trained.probability([seq, list(range(4, 20)) * 3])[:1]
    assert torch.allclose(alone, with_longer, atol=1e-6)
    ids, lengths = pad_batch([seq], max_len=0)
    padded = torch.cat([ids, torch.zeros(1, 10, dtype=torch.long)], dim=1)
    with torch.no_grad():
        assert torch.allclose(trained(padded, lengths), trained(ids, lengths), atol=1e-6)


@pytest.mark.parametrize("pool", ["last", "max"])
def test_both_poolings_read_only_the_true_length(pool):
    torch.manual_seed(0)
    p = SentimentParams.model_validate({"model": {"embed_dim": 8, "hidden": 8, "pool": pool}})
    module = SentimentClassifier(20, p.model.model_dump(), p.train.model_dump()).eval()
    seqs = [[5, 6, GOOD, 7], list(range(4, 20))]
    ids, lengths = pad_batch(seqs)
    with torch.no_grad():
        both = module(ids, lengths)
        alone = module(*pad_batch(seqs[:1]))
        # trailing garbage past the true length must not matter either
        noisy = ids.clone()
        noisy[0, 4:] = BAD
        assert torch.allclose(both[:1], alone, atol=1e-6)
        assert torch.allclose(module(noisy, lengths), both, atol=1e-6)


@pytest.mark.parametrize(("pool", "bidirectional", "layers"), [("max", True, 1), ("last", True, 1), ("last", False, 2), ("max", True, 2)])
def test_same_logits_as_torch_lstm_on_packed_sequences(pool, bidirectional, layers):
    """The classifier runs its LSTMs on right-padded batches (nn/birnn.py); given the same weights,
    nn.LSTM on packed sequences (the reference for variable lengths) gives the same logits."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch.manual_seed(0)
    p = SentimentParams.model_validate({"model": {"embed_dim": 8, "hidden": 6, "pool": pool, "layers": layers,
                                                  "bidirectional": bidirectional}})
    module = SentimentClassifier(20, p.model.model_dump(), p.train.model_dump()).eval()
    ref = torch.nn.LSTM(8, 6, layers, batch_first=True, bidirectional=bidirectional)
    with torch.no_grad():
        for k, rnn in enumerate(module.net.rnns):
            parts = [(rnn.fwd, ""), (rnn.bwd, "_reverse")] if bidirectional else [(rnn, "")]
            for one, suffix in parts:
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(ref, f"{name}_l{k}{suffix}").copy_(getattr(one, f"{name}_l0"))
    seqs = [[5, 6, GOOD, 7], list(range(4, 20)), [BAD], [9, 8, 7, 6, 5, 4, 3]]
    ids, lengths = pad_batch(seqs)
    with torch.no_grad():
        packed = pack_padded_sequence(module.net.embed(ids), lengths, batch_first=True, enforce_sorted=False)
        out, (h, _) = ref(packed)
        if pool == "max":
            features = pad_packed_sequence(out, batch_first=True, padding_value=-1e4)[0].max(dim=1).values
        else:
            features = torch.cat([h[-2], h[-1]], dim=1) if bidirectional else h[-1]
        assert torch.allclose(module(ids, lengths), module.net.fc(features).squeeze(1), atol=1e-5)


def test_word_dropout_reads_words_as_unknown_while_training_only():
    torch.manual_seed(0)
    p = SentimentParams.model_validate({"model": {"embed_dim": 8, "hidden": 8, "word_dropout": 0.3}})
    module = SentimentClassifier(20, p.model.model_dump(), p.train.model_dump())
    seen = []
    module.net.embed.register_forward_hook(lambda _m, args, _out: seen.append(args[0].clone()))
    seqs = [list(range(4, 20)) * 20, [5, 6, 7]]
    ids, lengths = pad_batch(seqs)
    module.train()
    module(ids, lengths)
    module.eval()
    module(ids, lengths)
    trained, evaluated = seen
    assert torch.equal(evaluated, ids)  # evaluation reads every word
    changed = trained != ids
    assert torch.all(trained[changed] == 1)  # to <unk>
    assert not changed[ids == 0].any()  # padding stays padding
    assert 0.25 < changed[ids != 0].float().mean() < 0.35


@pytest.mark.parametrize(("text", "message"), [("", "empty review"), ("   ", "empty review"),
                                                ("great hotel, 5 stars", "no Chinese characters")])
def test_predict_rejects_what_it_cannot_read(text, message, capsys, tmp_path):
    assert predict_main([text, "--models", str(tmp_path), "--prepared", str(tmp_path)]) == 1
    assert message in capsys.readouterr().err


def test_predict_without_a_model_names_the_stage(capsys, tmp_path):
    (tmp_path / "vocab.json").write_text(json.dumps(["<pad>", "<unk>", "好"]))
    repo_params = Path(__file__).resolve().parents[1] / "params.yaml"
    assert predict_main(["很好", "--models", str(tmp_path), "--prepared", str(tmp_path), "--params", str(repo_params)]) == 1
    assert "best.ckpt" in capsys.readouterr().err


def test_evaluate_without_a_chinese_font_stops_before_writing(monkeypatch, tmp_path):
    from kexue import plots
    from kexue.errors import InputError
    from kexue.tasks import sentiment
    from tests.conftest import cpu_run

    def no_font() -> str:
        raise InputError("no font with Chinese glyphs found")

    monkeypatch.setattr(plots, "cjk_font", no_font)
    with pytest.raises(InputError, match="no font"):
        sentiment.evaluate(SentimentParams(), cpu_run(), tmp_path / "prepared", tmp_path / "models", tmp_path / "live",
                           tmp_path / "sentiment.json", tmp_path / "eval")
    assert not (tmp_path / "sentiment.json").exists() and not (tmp_path / "eval").exists()
