"""cloze: the CMRC2017 format, the question generator, candidate masking, accuracy, the exact
bidirectional LSTM, and preprocess on tiny files in the real formats."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from kexue.errors import DataFormatError
from kexue.nn.birnn import BiLSTM, reverse_padded
from kexue.params import RunParams
from kexue.tasks.cloze.cmrc import BLANK, Question, read_cft_documents, read_questions, write_questions
from kexue.tasks.cloze.data import (anonymized_words, answer_occurrence_shares, candidate_words, collate, encode,
                                    frequency_bucket, placeholder_ids, placeholder_tokens, preprocess, Questions,
                                    source_documents, word_ids)
from kexue.tasks.cloze.evaluate import accuracy, most_frequent_candidate, trained_questions
from kexue.tasks.cloze.generate import PartOfSpeech, chunk_documents, make_questions
from kexue.tasks.cloze.model import ClozeReader, NEG, answer_log_likelihood, word_probabilities
from kexue.tasks.cloze.params import ClozeParams, GenerateParams, ModelParams, TrainParams
from kexue.text.vocab import Vocab
from tests.conftest import cpu_run

DOC_QUERY = """1 ||| 小 猴 和 小 熊 是 好 朋友 。
2 ||| XXXXX 每天 都 去 找 小 熊 玩 。
<qid_0> ||| XXXXX 每天 都 去 找 小 熊 玩 。

1 ||| 野牛 和 老虎 打 了 起来 。
2 ||| 野牛 用 角 把 XXXXX 顶 死 了 。
3 ||| 狐狸 看见 了 。
<qid_1> ||| 野牛 用 角 把 XXXXX 顶 死 了 。

"""
ANSWERS = "<qid_0> ||| 小猴\n<qid_1> ||| 老虎\n"

STORY = [
    "小 猴 住 在 森林 里 ， 小 猴 有 一 个 好 朋友 叫 小 熊 。",
    "有 一 天 ， 小 熊 去 河边 钓鱼 ， 他 钓 到 了 一 条 大 鱼 。",
    "小 猴 看见 了 大 鱼 ， 高兴 地 跳 了 起来 。",
    "他们 把 鱼 带 回 森林 ， 请 老虎 和 狐狸 一起 吃 。",
    "老虎 说 ： “ 这 条 鱼 真 大 ！",
    "” 狐狸 笑 着 说 ： “ 森林 里 的 朋友 都 喜欢 小 熊 。",
]


def write_pair(folder: Path, name: str, doc_query: str, answers: str) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    dq, an = folder / f"{name}.valid.doc_query", folder / f"{name}.valid.answer"
    dq.write_text(doc_query, encoding="utf-8")
    an.write_text(answers, encoding="utf-8")
    return dq, an


def test_official_format_round_trips_and_renumbers(tmp_path):
    dq, an = write_pair(tmp_path, "a", DOC_QUERY, ANSWERS)
    qs = read_questions(dq, an)
    assert [q.qid for q in qs] == ["<qid_0>", "<qid_1>"]
    assert qs[1].answer == "老虎" and qs[1].query.count(BLANK) == 1 and len(qs[1].doc) == 3
    write_questions(qs, tmp_path / "b.doc_query", tmp_path / "b.answer")
    assert (tmp_path / "b.doc_query").read_text(encoding="utf-8") == DOC_QUERY
    assert (tmp_path / "b.answer").read_text(encoding="utf-8") == ANSWERS
    # a second file numbers from <qid_0> again; written together, the questions are renumbered 0..3
    dq2, an2 = write_pair(tmp_path / "second", "a", DOC_QUERY, ANSWERS)
    both = qs + read_questions(dq2, an2)
    assert [q.qid for q in both] == ["<qid_0>", "<qid_1>", "<qid_0>", "<qid_1>"]
    write_questions(both, tmp_path / "c.doc_query", tmp_path / "c.answer")
    again = read_questions(tmp_path / "c.doc_query", tmp_path / "c.answer")
    assert [q.qid for q in again] == [f"<qid_{k}>" for k in range(4)]
    assert [(q.doc, q.query, q.answer) for q in again] == [(q.doc, q.query, q.answer) for q in both]
    with pytest.raises(ValueError, match="question 1"):
        write_questions([both[0], Question("<qid_9>", both[1].doc, both[1].query)], tmp_path / "d.doc_query", tmp_path / "d.answer")
    assert not (tmp_path / "d.doc_query").exists()


@pytest.mark.parametrize("bad, where", [
    (DOC_QUERY.replace("2 ||| XXXXX", "3 ||| XXXXX"), "a.valid.doc_query:2"),  # sentence numbers skip
    (DOC_QUERY.replace("<qid_1> ||| 野牛", "<qid_x> ||| 野牛"), "a.valid.doc_query:8"),
    (DOC_QUERY.replace("3 ||| 狐狸 看见 了 。", "3 狐狸 看见 了 。"), "a.valid.doc_query:7"),
])
def test_malformed_doc_query_names_the_line(tmp_path, bad, where):
    dq, an = write_pair(tmp_path, "a", bad, ANSWERS)
    with pytest.raises(DataFormatError, match=where):
        read_questions(dq, an)


def test_missing_answer_is_an_error(tmp_path):
    dq, an = write_pair(tmp_path, "a", DOC_QUERY, "<qid_0> ||| 小猴\n")
    with pytest.raises(DataFormatError, match="no answer for <qid_1>"):
        read_questions(dq, an)


def test_cft_documents_leave_out_queries_and_answers():
    text = "1 ||| 小 猴 来 了 。\n2 ||| 小 熊 走 了 。\n3 ||| XXXXX 走 了 。 ||| 小熊\n1 ||| 老虎 睡 了 。\n2 ||| 狐狸 笑 了 ||| 狐狸\n"
    assert read_cft_documents(text) == [[["小", "猴", "来", "了", "。"], ["小", "熊", "走", "了", "。"]], [["老虎", "睡", "了", "。"]]]
    with pytest.raises(DataFormatError, match="cft:2"):
        read_cft_documents("1 ||| 小 猴 。\nno separator\n")


@pytest.mark.parametrize("power", [0.0, 2.0])
def test_generated_answer_occurs_in_its_document_and_query_has_one_blank(power):
    doc = [s.split() for s in STORY]
    g = GenerateParams(questions_per_doc=4, answer_pos=["n", "nr", "ns", "nz", "a", "v"], unblanked_fraction=0.3,
                       occurrence_power=power)
    pos = PartOfSpeech()
    made = []
    for seed in range(20):
        qs = make_questions(doc, g, pos, np.random.default_rng(seed))
        assert 1 <= len(qs) <= 4
        made += qs
        for q in qs:
            assert q.query.count(BLANK) == 1
            assert q.answer in q.words and q.answer not in (BLANK, "，", "。")
            restored = tuple(q.answer if w == BLANK else w for w in q.query)
            if q.query in q.doc:  # the blanked sentence stays in place, as in the official files
                assert sum(w == BLANK for w in q.words) == 1
                assert list(restored) == doc[q.doc.index(q.query)]
            else:  # or whole, answer in place, as in the user questions' documents
                assert BLANK not in q.words and restored in q.doc
    assert len({(q.query, q.answer) for q in made}) > 4  # the seed changes the questions
    assert 0 < sum(BLANK not in q.words for q in made) < len(made)  # both kinds are made
    first = make_questions(doc, g, pos, np.random.default_rng(3))
    assert first == make_questions(doc, g, pos, np.random.default_rng(3))  # and only the seed does


def test_questions_per_sentence_blank_different_words_of_one_sentence():
    doc = [["狐狸", "和", "小熊", "去", "森林", "。"], ["狐狸", "看见", "小熊", "。"], ["森林", "有", "狐狸", "。"], ["小熊", "笑", "了", "。"]]
    g = GenerateParams(questions_per_doc=1)  # one sentence blanked
    pos = PartOfSpeech()
    for seed in range(10):
        one = make_questions(doc, g, pos, np.random.default_rng(seed))
        assert len(one) == 1
        many = make_questions(doc, g, pos, np.random.default_rng(seed), per_sentence=5)
        sentence = {tuple(q.answer if w == BLANK else w for w in q.query) for q in many}
        assert len(sentence) == 1  # all from the one sentence
        answers = [q.answer for q in many]
        assert len(answers) == len(set(answers))  # each blanks a different word
        eligible = {w for w in next(iter(sentence)) if w in ("狐狸", "小熊", "森林")}
        assert set(answers) == eligible  # as many as the sentence allows, at most 5
        assert all(q.query.count(BLANK) == 1 and q.answer in q.words for q in many)
    with pytest.raises(ValidationError, match="questions_per_sentence"):
        GenerateParams(questions_per_sentence={"fairy_tales": 0})
    with pytest.raises(ValidationError, match="questions_per_sentence"):
        GenerateParams(questions_per_sentence={"poems": 2})


def test_occurrence_power_blanks_frequent_words_more_often_within_the_limits():
    # 狐狸 occurs in every sentence, 小熊 in two, 森林 in two: a > 0 must favour 狐狸
    doc = [["狐狸", "和", "小熊", "去", "森林", "。"], ["狐狸", "看见", "小熊", "。"], ["森林", "有", "狐狸", "。"],
           ["狐狸", "笑", "了", "。"], ["狐狸", "跑", "了", "。"], ["狐狸", "睡", "了", "。"]]
    pos = PartOfSpeech()

    def share_of_fox(power: float) -> float:
        g = GenerateParams(questions_per_doc=1, occurrence_power=power)
        answers = [q.answer for seed in range(200) for q in make_questions(doc, g, pos, np.random.default_rng(seed))]
        assert len(answers) == 200  # one sentence a document, one word a sentence
        return answers.count("狐狸") / len(answers)

    assert share_of_fox(3.0) > share_of_fox(0.0) + 0.1
    g = GenerateParams(questions_per_doc=2, occurrence_power=1.0)
    for seed in range(20):
        qs = make_questions(doc, g, pos, np.random.default_rng(seed), per_sentence=2)
        sentences = [tuple(q.answer if w == BLANK else w for w in q.query) for q in qs]
        assert len(set(sentences)) <= 2 and all(sentences.count(x) <= 2 for x in sentences)
        assert len({(x, q.answer) for x, q in zip(sentences, qs)}) == len(qs)  # different words of a sentence
        assert all(q.query.count(BLANK) == 1 and q.answer in q.words for q in qs)


def test_answer_occurrence_shares_count_the_document():
    assert answer_occurrence_shares(_questions()) == {"1": 0.3333, "2": 0.3333, "3": 0.0, "4": 0.0, "5+": 0.0}
    assert answer_occurrence_shares([]) == {"1": 0.0, "2": 0.0, "3": 0.0, "4": 0.0, "5+": 0.0}


def test_generator_needs_the_answer_elsewhere_in_the_document():
    doc = [["小猴", "吃", "苹果", "。"], ["小熊", "睡觉", "。"]]  # no noun occurs in two sentences
    assert make_questions(doc, GenerateParams(), PartOfSpeech(), np.random.default_rng(0)) == []


def test_chunk_documents_respects_the_size_limits():
    sentences = [["字"] * n for n in (5, 5, 5, 30, 5, 5, 5, 5)]
    docs = list(chunk_documents(sentences, max_tokens=12, min_sentences=2))
    assert all(sum(map(len, d)) <= 12 and len(d) >= 2 for d in docs)
    assert sum(len(d) for d in docs) == 6  # the 30-word sentence is skipped, one single-sentence chunk dropped


def _questions() -> list[Question]:
    doc = tuple(tuple(s.split()) for s in STORY)
    return [
        Question("<qid_0>", doc, ("小", "熊", "去", BLANK, "钓鱼", "。"), "河边"),
        Question("<qid_1>", doc[:3], ("小", "猴", "看见", "了", "什么", "？"), "大"),
        Question("<qid_2>", doc[:2], ("谁", "钓", "到", "了", "鱼", "？"), "熊猫"),  # answer not in the document
    ]


def test_encode_marks_candidates_blank_and_answer():
    qs = _questions()
    vocab = Vocab.build([w for s in STORY for w in s.split()] for _ in range(1))
    a = encode(qs, vocab, ["什么", "谁"])
    assert a["blank"].tolist() == [3, 4, 0]  # 什么 and 谁 became the blank
    q0 = qs[0].words
    cand0 = a["cand"][: len(q0)]
    assert all(c == -1 for w, c in zip(q0, cand0) if w in ("，", "。", "：", "“", "”", "！"))
    assert candidate_words(qs[0])[a["answer"][0]] == "河边"
    assert a["answer"][2] == -1 and a["n_cand"][0] == len(candidate_words(qs[0]))
    assert a["inq"][: len(q0)].sum() == sum(w in {"小", "熊", "去", "钓鱼", "。"} for w in q0)


def test_out_of_vocabulary_words_get_one_placeholder_each_wherever_they_recur():
    vocab = Vocab.build([["小", "熊", "去", "。"]], specials=[BLANK, *placeholder_tokens(3)])
    ph = placeholder_ids(vocab)
    assert ph == [vocab.stoi[f"<unk{i}>"] for i in range(3)]
    doc = ["阿瓜", "和", "小", "熊", "去", "河边", "，", "阿瓜", "。"]
    query = ["阿瓜", "去", BLANK, "找", "和", "。"]
    d, q = word_ids(doc, query, vocab, ph)
    assert d[0] == d[7] == q[0] == ph[0]  # 阿瓜: the first unknown word, the same id in document and query
    assert d[1] == q[4] == ph[1]  # 和: the second
    assert d[5] == ph[2]
    assert d[6] == q[3] == vocab.unk_id  # ， and 找: no placeholder left, the shared <unk>
    assert d[2:5] == vocab.encode(["小", "熊", "去"]) and d[8] == vocab.stoi["。"]  # known words keep their ids
    d, q = word_ids(doc, query, vocab, ph, hidden=frozenset({"熊"}))
    assert d[3] == ph[2] and d[5] == vocab.unk_id  # a hidden word is unknown too, in order of first occurrence
    d, q = word_ids(doc, query, vocab, [])  # no placeholders: one shared <unk>, as before
    assert d[0] == d[1] == q[3] == vocab.unk_id


def test_anonymized_words_are_answer_like_seeded_and_follow_the_fraction():
    qs = _questions()
    pos = PartOfSpeech()
    nouns = {"n", "nr", "ns"}
    assert anonymized_words(qs, 0.0, nouns, pos, np.random.default_rng(0)) == [frozenset()] * len(qs)
    every = anonymized_words(qs, 1.0, nouns, pos, np.random.default_rng(0))
    assert {"森林", "狐狸", "老虎"} <= every[0] and "去" not in every[0] and "，" not in every[0]
    assert all(pos(w) in nouns for h in every for w in h)
    half = anonymized_words(qs, 0.5, nouns, pos, np.random.default_rng(1))
    assert half == anonymized_words(qs, 0.5, nouns, pos, np.random.default_rng(1))
    assert all(h <= e for h, e in zip(half, every)) and half != every


@pytest.mark.parametrize("hops", [1, 2])
def test_masked_positions_are_never_picked(hops):
    torch.manual_seed(0)
    vocab = Vocab.build([[w for s in STORY for w in s.split()]])
    a = encode(_questions(), vocab, ["什么", "谁"])
    data = Questions(a)
    batch = collate([data[i] for i in range(len(data))])
    assert (batch["cand"][batch["doc"] == 0] == -1).all()  # padding is never a candidate
    model = ClozeReader(len(vocab), ModelParams(embed_dim=8, hidden=8, hops=hops).model_dump(), TrainParams().model_dump()).eval()
    with torch.no_grad():
        # a huge weight on the pad row would make padding win if it were not masked
        model.net.embed.weight[0] = 0
        scores = model(batch)
    assert (scores[batch["cand"] < 0] == NEG).all()
    probs = word_probabilities(scores, batch["cand"])
    for i in range(len(data)):
        n = int(a["n_cand"][i])
        assert torch.allclose(probs[i].sum(), torch.tensor(1.0), atol=1e-5)
        assert (probs[i, n:] == 0).all()
    pred, _ = model.predict_words(batch)
    assert all(0 <= int(k) < int(n) for k, n in zip(pred, a["n_cand"]))
    ll = answer_log_likelihood(scores, batch["cand"], batch["answer"])
    assert ll[2] < -1000 and (ll[:2] <= 0).all()  # an answer not in the document has probability ~0


@pytest.mark.parametrize("hops", [1, 2])
def test_a_training_step_lowers_the_loss(hops):
    torch.manual_seed(0)
    vocab = Vocab.build([[w for s in STORY for w in s.split()]])
    batch = collate([Questions(encode(_questions()[:2], vocab, ["什么"]))[i] for i in range(2)])
    mp = ModelParams(embed_dim=16, hidden=16, dropout=0, hops=hops)
    model = ClozeReader(len(vocab), mp.model_dump(), TrainParams().model_dump())
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(10):
        loss = -answer_log_likelihood(model(batch), batch["cand"], batch["answer"]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.5


def test_gated_attention_layers_ignore_query_padding_and_hops_1_is_the_plain_reader():
    torch.manual_seed(0)
    vocab = Vocab.build([[w for s in STORY for w in s.split()]])
    batch = collate([Questions(encode(_questions(), vocab, ["什么", "谁"]))[i] for i in range(3)])
    n, tq = batch["query"].shape
    padded = dict(batch, query=torch.cat([batch["query"], torch.zeros(n, 3, dtype=batch["query"].dtype)], 1))
    plain = ClozeReader(len(vocab), ModelParams(embed_dim=8, hidden=8, hops=1).model_dump(), TrainParams().model_dump())
    assert not any(n.startswith("net.gates") for n, _ in plain.named_parameters())
    model = ClozeReader(len(vocab), ModelParams(embed_dim=8, hidden=8, hops=3).model_dump(), TrainParams().model_dump()).eval()
    assert len(model.net.gates) == 2
    with torch.no_grad():
        scores = model(batch)
        assert torch.allclose(model(padded), scores, atol=1e-5)  # three more pad columns change nothing
        pad = torch.arange(tq + 3).unsqueeze(0) >= batch["q_len"].unsqueeze(1)
        other = dict(padded, query=padded["query"].masked_fill(pad, 5))  # real words where the padding is
        assert torch.allclose(model(other), scores, atol=1e-5)
        real = batch["query"].clone()
        real[0, 0] = 5 if real[0, 0] != 5 else 6
        assert not torch.allclose(model(dict(batch, query=real)), scores, atol=1e-5)  # a real word does count
    with pytest.raises(ValidationError, match="hops"):
        ModelParams(hops=0)


def test_accuracy_and_baseline_on_hand_made_predictions():
    assert accuracy(["老虎", "小猴", "苹果", ""], ["老虎", "小熊", "苹果", "狐狸"]) == 0.5
    assert accuracy([], []) == 0.0
    with pytest.raises(ValueError):
        accuracy(["a"], [])
    q = _questions()[1]
    assert most_frequent_candidate(q) == "小"  # 小 occurs 4 times in the first three sentences
    assert [frequency_bucket(q) for q in _questions()] == ["1", "2", "0"]  # 大 occurs in sentences 2 and 3; 熊猫 nowhere


def test_trained_questions_count_the_train_limit():
    assert trained_questions(130, ClozeParams()) == 130  # no limit: all prepared
    assert trained_questions(130, ClozeParams(train=TrainParams(train_limit=50))) == 50
    assert trained_questions(30, ClozeParams(train=TrainParams(train_limit=50))) == 30
    passage = ClozeParams(model=ModelParams(reader="passage", hops=1), train=TrainParams(train_limit=50))
    assert trained_questions(130, passage) == 130  # its limit counts documents
    assert trained_questions(None, ClozeParams(train=TrainParams(train_limit=50))) is None


def test_bilstm_is_exact_without_packing():
    torch.manual_seed(0)
    x = torch.arange(2 * 5).view(2, 5, 1).float()
    assert reverse_padded(x, torch.tensor([5, 3]))[1, :, 0].tolist() == [7.0, 6.0, 5.0, 8.0, 9.0]
    rnn = BiLSTM(4, 3)
    seq = torch.randn(1, 4, 4)
    alone = rnn(seq, torch.tensor([4]))
    padded = torch.cat([seq, torch.randn(1, 6, 4)], dim=1)  # garbage after the end must not matter
    batch = rnn(torch.cat([padded, torch.randn(1, 10, 4)]), torch.tensor([4, 10]))
    assert torch.allclose(batch[0, :4], alone[0], atol=1e-6)


def _tiny_raw(raw: Path) -> None:
    """Tiny files in the real formats: validation sets, cft.zip, People's Daily and the novels."""
    eval_story = "1 ||| 小 猴 和 小 熊 在 森林 里 是 好 朋友 。\n2 ||| XXXXX 每天 都 去 找 小 熊 玩 。\n<qid_0> ||| XXXXX 每天 都 去 找 小 熊 玩 。\n\n"
    write_pair(raw, "cloze", eval_story, "<qid_0> ||| 小猴\n")
    write_pair(raw, "user", eval_story.replace("XXXXX 每天", "谁 每天"), "<qid_0> ||| 小猴\n")
    stories = []
    for k in range(30):
        lines = [f"{i} ||| {s}" for i, s in enumerate([*STORY, f"第 {k} 天 ， 小 熊 回家 了 。"], 1)]
        lines.append(f"{len(STORY) + 2} ||| 谁 钓 到 了 鱼 ？ ||| 小熊")
        stories.append("\n".join(lines))
    # this story shares a sentence with the evaluation document: it must be dropped
    stories.append("1 ||| 小 猴 和 小 熊 在 森林 里 是 好 朋友 。\n2 ||| 小 熊 有 鱼 。\n3 ||| 小 猴 有 鱼 。\n4 ||| 鱼 很 大 。\n5 ||| XXXXX ||| 鱼")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("cft/cft.test.human", "\n".join(stories[:15]) + "\n")
        z.writestr("cft/cft.test.auto", "\n".join(stories[:1] + stories[15:]) + "\n")
    (raw / "cft.zip").write_bytes(buf.getvalue())


# cloze.data for _tiny_raw's files: questions from every story's nouns, adjectives and verbs
TINY_DATA = {"min_docs": 1, "generate": {"sources": ["fairy_tales"], "val_fraction": 0.3, "questions_per_doc": 3,
                                         "doc_min_sentences": 3, "answer_pos": ["n", "nr", "ns", "nz", "a", "v"]}}


def test_preprocess_drops_overlap_and_splits_by_document(tmp_path):
    raw = tmp_path / "raw"
    _tiny_raw(raw)
    p = ClozeParams.model_validate({"data": TINY_DATA})
    prepared = tmp_path / "prepared"
    preprocess(p, RunParams(), raw, prepared)
    stats = json.loads((prepared / "stats.json").read_text())
    # 30 stories (the auto file repeats the first human one: kept once) and the overlapping one, dropped
    assert stats["sources"]["fairy_tales"]["documents"] == 31
    assert stats["sources"]["fairy_tales"]["dropped_sharing_an_evaluation_sentence"] == 1
    assert stats["eval_sentences_in_training_text"] == 0
    assert "<unk0>" in json.loads((prepared / "vocab.json").read_text())
    assert read_questions(prepared / "sample.doc_query", prepared / "sample.answer")
    with pytest.raises(FileNotFoundError, match="cloze-download"):
        preprocess(p, RunParams(), tmp_path / "nowhere", prepared)


@pytest.mark.parametrize("source, missing", [("news", "199801.txt"), ("novels", "三国演义.txt")])
def test_a_missing_corpus_file_names_clozes_own_download_stage(tmp_path, source, missing):
    # the novels and the news are read by the shared corpus readers (kexue.text.corpora), from cloze's raw folder
    p = ClozeParams.model_validate({"data": {"generate": {"sources": [source]}}})
    with pytest.raises(FileNotFoundError, match=rf"{missing}: missing; run the cloze-download stage first"):
        source_documents(tmp_path, source, p)


def test_repo_params_validate_and_bad_values_name_their_key(tmp_path):
    import yaml

    from kexue import tasks
    from kexue.params import ParamsError, load
    from tests.conftest import REPO

    run, full = load(REPO / "params.yaml", "cloze", ClozeParams, known_tasks=tasks.TASKS)
    raw = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    raw["profile"] = "quick"
    (tmp_path / "quick.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    _, quick = load(tmp_path / "quick.yaml", "cloze", ClozeParams, known_tasks=tasks.TASKS)
    assert quick.data.generate.sources == ["fairy_tales"] and full.data.generate.sources != quick.data.generate.sources
    raw["profile"] = "full"
    raw["cloze"]["data"]["generate"]["sources"] = ["fairy_tales", "wikipedia"]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ParamsError, match=r"cloze\.data\.generate\.sources\.1"):
        load(tmp_path / "bad.yaml", "cloze", ClozeParams, known_tasks=tasks.TASKS)


def test_compute_scores_the_official_sets_and_writes_nothing(tmp_path):
    from kexue.tasks.cloze.evaluate import compute
    from kexue.tasks.cloze.train import train

    raw = tmp_path / "raw"
    _tiny_raw(raw)
    p = ClozeParams.model_validate({"data": TINY_DATA, "model": {"embed_dim": 8, "hidden": 8, "pretrained": "none"},
                                    "train": {"epochs": 1, "batch_size": 4}, "evaluate": {"wrong_examples": 1}})
    run = cpu_run()
    prepared, models = tmp_path / "prepared", tmp_path / "models"
    preprocess(p, run, raw, prepared)
    train(p, run, prepared, tmp_path / "no-vectors.txt", models, tmp_path / "live")
    story = "1 ||| 小猴 和 小熊 是 好 朋友 。\n2 ||| 小猴 有 鱼 。\n3 ||| XXXXX 每天 都 去 找 小熊 玩 。\n<qid_0> ||| XXXXX 每天 都 去 找 小熊 玩 。\n\n"
    for name in ("cloze", "user"):  # the answer twice in its document
        write_pair(raw, name, story, "<qid_0> ||| 小猴\n")
    before = sorted(tmp_path.rglob("*"))
    e = compute(p, run, raw, prepared, models)
    assert sorted(tmp_path.rglob("*")) == before
    m = e.metrics
    for name in ("cloze_valid", "user_valid"):
        assert m[name]["questions"] == 1 and m[name]["accuracy"] in (0.0, 1.0)
        assert m[name]["most_frequent_word_accuracy"] in (0.0, 1.0) and m[name]["answer_not_in_document"] == 0
        assert m[name]["candidates_per_question"] > 1 and m[name]["by_answer_occurrences"]["2"]["questions"] == 1
    assert 0 <= m["generated_val"]["accuracy"] <= 1 and m["generated_val"]["questions"] > 0
    assert [r["set"] for r in e.by_occurrences] == ["cloze-valid"] * 5 + ["user-valid"] * 5
    assert sum(r["questions"] for r in e.by_occurrences) == 2
    assert len(e.wrong) == sum(m[n]["accuracy"] == 0.0 for n in ("cloze_valid", "user_valid"))
    assert m["epochs"] == 1 and m["params"] > 0 and list(m)[-2:] == ["eval_device", "eval_wall_time_s"]
