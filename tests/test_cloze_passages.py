"""cloze, reader: passage: documents read with several blanks at once, drawn anew every epoch."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from kexue.params import RunParams
from kexue.tasks.cloze.cmrc import BLANK
from kexue.tasks.cloze.data import Questions, collate, encode, load_split, placeholder_ids, placeholder_tokens, preprocess
from kexue.tasks.cloze.model import NEG, ClozeReader, answer_log_likelihood
from kexue.tasks.cloze.params import ClozeParams, ModelParams, TrainParams
from kexue.tasks.cloze.passages import (PassageBatches, Passages, as_passages, blankable, collate_passages, draw_blanks,
                                        encode_documents, make_passage, sentences)
from kexue.tasks.cloze.train import train
from kexue.text.vocab import Vocab
from tests.test_cloze import STORY, TINY_DATA, _questions, _tiny_raw

NOUNS = {"小", "熊", "猴", "森林", "朋友", "鱼", "老虎", "狐狸", "河边"}


def _arrays(placeholders: int = 4, **settings) -> tuple[dict[str, np.ndarray], Vocab, list[list[list[str]]]]:
    docs = [[s.split() for s in STORY], [s.split() for s in STORY[2:]] + [["小", "熊", "和", "鱼", "。"]]]
    vocab = Vocab.build([[w for d in docs for s in d for w in s]], specials=[BLANK, *placeholder_tokens(placeholders)])
    rules = {"min_other_occurrences": 1, "unblanked_fraction": 0.0, "anonymize": 0.0, **settings}
    a = encode_documents(docs, vocab, lambda w: w in NOUNS, placeholder_ids(vocab), **rules)
    return a, vocab, docs


def _words(vocab: Vocab, ids) -> list[str]:
    return [vocab.itos[int(i)] for i in ids]


def test_every_blank_has_its_answer_readable_elsewhere_and_one_blank_per_query():
    a, vocab, docs = _arrays()
    for i, doc in enumerate(docs):
        original = [w for s in doc for w in s]
        for seed in range(20):
            p = make_passage(a, i, 3, np.random.default_rng(seed))
            doc_words = _words(vocab, p["doc"])
            blanks = [t for t, w in enumerate(doc_words) if w == BLANK]
            assert 1 <= len(p["queries"]) <= 3 and len(blanks) == len(p["queries"])  # unblanked_fraction 0
            answers = []
            for q, at, where, ans in zip(p["queries"], p["blank"], p["doc_blank"], p["answer"]):
                qw = _words(vocab, q)
                assert qw.count(BLANK) == 1 and qw[at] == BLANK
                word = original[where]
                assert word in NOUNS and where in blanks
                # the answer's candidate index names that word, at a readable position of the document
                readable = [t for t, c in enumerate(p["cand"]) if c == ans]
                assert readable and all(original[t] == word and doc_words[t] == word for t in readable)
                answers.append(word)
            assert len(set(answers)) == len(answers)  # different words ...
            sentences = [next(k for k, s in enumerate(doc) if sum(map(len, doc[:k + 1])) > t) for t in blanks]
            assert len(set(sentences)) == len(sentences)  # ... in different sentences
            assert all(c == -1 for c, w in zip(p["cand"], doc_words) if w in (BLANK, "，", "。", "！", "“", "”", "："))


def test_sentences_give_back_the_documents_words():
    a, _, docs = _arrays(anonymize=1.0)  # hiding words changes what the reader sees, not the text
    assert sentences(a) == [s for d in docs for s in d]


def test_blanks_follow_the_seed_and_the_epoch():
    a, _, _ = _arrays()
    ds = Passages(a, 3, seed=5)
    first = ds[(0, [0, 1])]
    assert all(torch.equal(first[k], ds[(0, [0, 1])][k]) for k in first)  # same seed and epoch: same blanks
    later = [ds[(e, [0, 1])]["doc_blank"] for e in range(1, 6)]
    assert any(not torch.equal(first["doc_blank"], d) for d in later)  # another epoch: other blanks
    sampler = PassageBatches(ds.lengths(), 1, seed=5)
    sampler.set_epoch(3)
    assert {e for e, _ in sampler} == {3} and sorted(i for _, b in sampler for i in b) == [0, 1]


def test_occurrence_power_favours_words_that_recur():
    sent = np.array([0, 1, 2, 3])
    tok = np.array([10, 11, 12, 13])
    ok = np.arange(4)
    weight = np.array([1.0, 1.0, 1.0, 50.0]) ** 1.0
    picks = [int(draw_blanks(sent, tok, ok, weight, 1, np.random.default_rng(s))[0]) for s in range(200)]
    assert picks.count(3) > 150  # 50 / 53 expected
    uniform = [int(draw_blanks(sent, tok, ok, weight ** 0.0, 1, np.random.default_rng(s))[0]) for s in range(200)]
    assert 30 < uniform.count(3) < 70
    # one word or one sentence is never blanked twice
    sent, tok = np.array([0, 0, 1, 1]), np.array([5, 6, 5, 6])
    for s in range(20):
        at = draw_blanks(sent, tok, np.arange(4), np.ones(4), 4, np.random.default_rng(s))
        assert len(at) == 2 and len(set(sent[at])) == 2 and len(set(tok[at])) == 2


def test_hidden_and_unknown_words_share_placeholders_and_whole_sentences_keep_the_answer():
    a, vocab, docs = _arrays(anonymize=1.0, unblanked_fraction=1.0)
    p = make_passage(a, 0, 2, np.random.default_rng(0))
    doc_words = _words(vocab, p["doc"])
    original = [w for s in docs[0] for w in s]
    assert BLANK not in doc_words and all(d == -1 for d in p["doc_blank"])  # every sentence whole
    for t, w in enumerate(original):  # every noun hidden, each one placeholder wherever it recurs
        if w in NOUNS:
            assert doc_words[t].startswith("<unk")
            assert all(doc_words[u] == doc_words[t] for u, x in enumerate(original) if x == w)
    assert doc_words[original.index("住")] == "住"
    ok, other = blankable(a, 0)
    assert len(ok) == len(other) and (other >= 1).all()


def test_passage_reader_masks_non_candidates_and_matches_single_questions():
    torch.manual_seed(0)
    a, vocab, _ = _arrays()
    batch = collate_passages([make_passage(a, i, 3, np.random.default_rng(i)) for i in range(2)])
    model = ClozeReader(len(vocab), ModelParams(embed_dim=8, hidden=8, hops=1, reader="passage").model_dump(),
                        TrainParams().model_dump()).eval()
    with torch.no_grad():
        model.net.embed.weight[0] = 100  # padding would win if it were not masked
        scores = model(batch)
        assert scores.shape[:2] == batch["qmask"].shape
        assert (scores.masked_select((batch["cand"] < 0).unsqueeze(1).expand_as(scores)) == NEG).all()
        flat, cand, answer = model.question_scores(batch)
        assert len(flat) == int(batch["qmask"].sum()) and (answer >= 0).all()
        pred, _ = model.predict_words(batch)
        assert all(int(cand[m, (cand[m] >= 0)].max()) >= int(k) for m, k in enumerate(pred))
        # single questions (the evaluation's format) read as passages of one blank give the same scores
        single = collate([Questions(encode(_questions()[:2], vocab, ["什么"]))[i] for i in range(2)])
        one = as_passages(single)
        assert one["query"].shape[1] == 1 and one["qmask"].all()
        assert torch.equal(model(single), model(one))
    with pytest.raises(ValidationError, match="hops: 1"):
        ModelParams(reader="passage", hops=2)


def test_a_passage_training_step_lowers_the_loss():
    torch.manual_seed(0)
    a, vocab, _ = _arrays()
    batch = collate_passages([make_passage(a, i, 3, np.random.default_rng(i)) for i in range(2)])
    model = ClozeReader(len(vocab), ModelParams(embed_dim=16, hidden=16, dropout=0, hops=1, reader="passage").model_dump(),
                        TrainParams().model_dump())
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(10):
        scores, cand, answer = model.question_scores(batch)
        loss = -answer_log_likelihood(scores, cand, answer).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.5


def test_preprocess_writes_passages_and_the_train_stage_reads_them(tmp_path):
    raw = tmp_path / "raw"
    _tiny_raw(raw)
    p = ClozeParams.model_validate({
        "data": TINY_DATA,
        "model": {"reader": "passage", "hops": 1, "embed_dim": 8, "hidden": 8, "pretrained": "documents"},
        "train": {"epochs": 2, "batch_size": 4, "blanks": 3},
    })
    prepared = tmp_path / "prepared"
    preprocess(p, RunParams(), raw, prepared)
    stats = json.loads((prepared / "stats.json").read_text())
    passages = load_split(prepared, "passages")
    assert stats["train_passages"] == len(passages["doc_off"]) - 1 > 0
    run = RunParams.model_validate({"trainer": {"accelerator": "cpu", "progress_bar": False}})
    train(p, run, prepared, tmp_path / "no-vectors.txt", tmp_path / "models", tmp_path / "live")
    summary = json.loads((tmp_path / "models" / "summary.json").read_text())
    assert summary["epochs"] == 2 and (tmp_path / "models" / "best.ckpt").is_file()
    # the word vectors were learnt on the training documents: every vocabulary word seen twice has one
    assert 0 < summary["pretrained_words"] <= summary["vocab_size"]
