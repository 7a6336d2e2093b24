"""title: the CSL reader and split, the prior's character bag, beam search against greedy decoding,
the ROUGE wrapper and the baselines on hand-made strings, bad params, and the four stages on a
20-pair file in the real format."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from kexue import tasks
from kexue.errors import DataFormatError
from kexue.params import ParamsError, load
from kexue.tasks import title
from kexue.tasks.title.baselines import first_clause, lead, oracle, sentences
from kexue.tasks.title.data import (BOS, EOS, build_vocab, drop_duplicates, encode_source, encode_target, load_pairs,
                                    read_tsv, split_pairs)
from kexue.tasks.title.model import TitleWriter, char_bag
from kexue.tasks.title.params import TitleParams
from kexue.tasks.title.predict import main as predict_main
from kexue.tasks.title.rouge import rouge, rouge_one
from kexue.text.batching import pad_batch
from tests.conftest import cpu_run, params_file

# Real-format pairs: an abstract of a few sentences (half-width punctuation, as in CSL), and a title
# built from its words, as paper titles mostly are.
TOPICS = ["水运工程项目", "飞行器姿态控制", "补肾活血汤", "微波消解法", "城市轨道交通", "土壤重金属污染", "深度学习模型",
          "高速铁路桥梁", "农村金融服务", "中学数学教学", "锂离子电池", "森林火灾预警", "古代汉语词汇", "企业财务风险",
          "煤矿瓦斯抽采", "水稻病虫害", "图像边缘检测", "风力发电机组", "地下水资源", "网络舆情分析", "小麦抗旱品种"]
METHODS = ["全过程管理", "非线性模型", "临床观察", "对比试验", "数值模拟", "问卷调查", "神经网络", "有限元分析"]


def make_pair(i: int) -> tuple[str, str]:
    topic, method = TOPICS[i % len(TOPICS)], METHODS[i % len(METHODS)]
    abstract = (f"针对{topic}中存在的问题,采用{method}方法进行研究.结果表明,该方法在{topic}中效果显著,"
                f"精度提高了{i % 9 + 1}.5%.最后讨论了{method}的适用范围.")
    return abstract, f"基于{method}的{topic}研究"


def write_raw(raw: Path, n: int = 20) -> None:
    """`dev.tsv` with `n` pairs; `test.tsv` with two of them again (exact duplicates) and two new ones."""
    raw.mkdir(parents=True, exist_ok=True)
    line = "to title\t{}\t{}\n".format
    (raw / "dev.tsv").write_text("".join(line(*make_pair(i)) for i in range(n)), encoding="utf-8")
    (raw / "test.tsv").write_text("".join(line(*make_pair(i)) for i in (0, 1, n, n + 1)), encoding="utf-8")


def tiny_params(**sections: dict) -> TitleParams:
    settings: dict[str, dict] = {
        "data": {"val_size": 3, "test_size": 3, "min_count": 1},
        "model": {"embed_dim": 16, "hidden": 16, "layers": 1, "heads": 2, "dropout": 0.0},
        "train": {"epochs": 2, "batch_size": 8, "lr": 0.01},
        "decode": {"beam": 3, "max_len": 12},
        "evaluate": {"beams": [1, 2], "examples": 5, "batch_size": 2},
    }
    for name, values in sections.items():
        settings[name] = {**settings.get(name, {}), **values}
    return TitleParams.model_validate(settings)


def random_writer(seed: int = 0, prior: bool = True, eos_bias: float = 0.0, pointer: bool = True) -> TitleWriter:
    vocab = build_vocab([make_pair(i) for i in range(30)], min_count=1)
    torch.manual_seed(seed)
    mp = {"embed_dim": 16, "hidden": 16, "layers": 2, "heads": 4, "dropout": 0.1, "prior": prior, "pointer": pointer}
    m = TitleWriter(vocab.itos, mp, {}).eval()
    with torch.no_grad():
        m.out.weight.mul_(20)  # peaked distributions, so that the search has choices to make
        m.out.bias[m.eos] += eos_bias
    return m


def batch(m: TitleWriter, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    return pad_batch([m.vocab.encode(list(t)) for t in texts])


# --- data ----------------------------------------------------------------------------------------------

def test_read_tsv_reads_the_real_format_and_names_a_bad_line(tmp_path):
    write_raw(tmp_path)
    pairs = read_tsv(tmp_path / "dev.tsv")
    assert len(pairs) == 20 and pairs[0] == make_pair(0)
    bad = tmp_path / "bad.tsv"
    bad.write_text("to title\tabstract\ttitle\n\nto title\tonly two columns\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"bad\.tsv:3: expected 3 tab-separated columns .* got 2"):
        read_tsv(bad)
    bad.write_text("to title\tabstract\t \n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"bad\.tsv:1: empty title"):
        read_tsv(bad)
    bad.write_bytes("to title\t摘要\t标题\n".encode("gbk"))
    with pytest.raises(DataFormatError, match="not UTF-8"):
        read_tsv(bad)


def test_duplicates_are_dropped_and_the_split_is_seeded():
    pairs = [make_pair(i) for i in range(20)]
    unique, dropped = drop_duplicates(pairs + pairs[:3] + [(pairs[4][0], "另一个标题")])
    assert unique == pairs and dropped == 4
    a, b, c = (split_pairs(pairs, 3, 4, seed) for seed in (0, 0, 1))
    assert a == b and a != c
    assert [len(a[s]) for s in ("train", "val", "test")] == [13, 3, 4]
    assert sorted(a["train"] + a["val"] + a["test"]) == sorted(pairs)
    with pytest.raises(DataFormatError, match="20 pairs cannot make 10 test and 10 validation"):
        split_pairs(pairs, 10, 10, 0)


def test_the_vocabulary_comes_from_the_training_pairs_only():
    vocab = build_vocab([("甲乙乙", "丙丙"), ("甲", "丁")], min_count=2)
    assert vocab.itos[:4] == ["<pad>", "<unk>", BOS, EOS]
    assert set(vocab.itos[4:]) == {"甲", "乙", "丙"}  # 丁: once; 戊: never in training
    assert vocab.encode(list("丁戊")) == [vocab.unk_id, vocab.unk_id]


# --- the prior ---------------------------------------------------------------------------------------

def test_the_prior_vector_marks_exactly_the_input_characters():
    m = random_writer()
    texts = ["针对水运工程", "采用方法进行研究,结果表明", "研究"]
    src, lengths = batch(m, texts)
    bag = char_bag(src, lengths, len(m.vocab))
    assert bag.shape == (3, len(m.vocab)) and set(bag.unique().tolist()) == {0.0, 1.0}
    for row, text in zip(bag, texts):
        assert set(row.nonzero().flatten().tolist()) == set(m.vocab.encode(list(text)))
    assert m.encode(src, lengths).bag.equal(bag)
    # an empty abstract (one padding token) marks nothing
    empty, length = pad_batch([[]])
    assert char_bag(empty, length, len(m.vocab)).sum() == 0
    assert random_writer(prior=False).encode(src, lengths).bag is None
    assert not any("prior" in name for name, _ in random_writer(prior=False).named_parameters())


def test_a_strong_prior_restricts_titles_to_the_abstract_characters():
    m = random_writer()
    with torch.no_grad():
        m.prior_log_scale.fill_(math.log(400.0))  # +400 for the abstract's characters, -200 for the rest
        m.prior_shift.fill_(-200.0)
    texts = ["针对水运工程", "采用方法进行研究"]
    src, lengths = batch(m, texts)
    for text, ids in zip(texts, m.beam_search(src, lengths, beam=3, max_len=8)):
        assert ids and set(m.vocab.decode(ids)) <= set(text)


def test_the_pointer_copies_from_where_the_decoder_attends():
    m = random_writer(prior=False)
    texts = ["针对水运工程", "采用方法进行研究"]
    src, lengths = batch(m, texts)
    with torch.no_grad():
        m.gate.bias.fill_(-100.0)  # never generate: copy only
    for text, ids in zip(texts, m.greedy(src, lengths, max_len=8)):
        assert len(ids) == 8 and set(m.vocab.decode(ids)) <= set(text)  # </s> is not in an abstract: no end
    with torch.inference_mode():  # the copy distribution is the attention on each character: it sums to 1
        logp = m(src, lengths, torch.tensor([[m.bos, 5], [m.bos, 6]]))
    torch.testing.assert_close(logp.exp().sum(-1), torch.ones(2, 2))
    assert not hasattr(random_writer(pointer=False), "gate")


# --- decoding ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("prior, pointer", [(True, True), (False, True), (True, False), (False, False)])
def test_step_by_step_decoding_equals_teacher_forcing(prior, pointer):
    m = random_writer(prior=prior, pointer=pointer)
    src, lengths = batch(m, ["针对水运工程中存在的问题", "研究"])
    y = torch.tensor([[m.bos, 5, 6, 7, 8], [m.bos, 9, 10, 11, 12]])
    with torch.inference_mode():
        whole = m(src, lengths, y)
        memory, state, steps = m.encode(src, lengths), None, []
        for t in range(y.shape[1]):
            logits, state = m.decode(y[:, t : t + 1], memory, state)
            steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), whole, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def trained() -> TitleWriter:
    """A small writer fitted for 120 steps on 30 made-up pairs: its titles end (</s>) at different lengths."""
    m = random_writer(1)
    with torch.no_grad():
        m.out.weight.div_(20)
    pairs = [make_pair(i) for i in range(30)]
    src, lengths = pad_batch([encode_source(a, m.vocab, 256) for a, _ in pairs])
    tgt, _ = pad_batch([encode_target(t, m.vocab, 48) for _, t in pairs])
    opt = torch.optim.Adam(m.parameters(), lr=0.01)
    m.train()
    torch.manual_seed(1)
    for _ in range(120):
        loss = m._loss((src, lengths, tgt, None))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return m.eval()


TEXTS = [make_pair(i)[0][: 10 + 7 * i] for i in range(8)] + [make_pair(i)[0] for i in range(30, 34)]


@pytest.mark.parametrize("which", ["trained", "random0", "random1"])
def test_beam_search_with_beam_1_is_greedy_decoding(which, trained):
    m = trained if which == "trained" else random_writer(int(which[-1]), eos_bias=0.5)
    src, lengths = batch(m, TEXTS)
    greedy = m.greedy(src, lengths, max_len=25)
    assert m.beam_search(src, lengths, beam=1, max_len=25) == greedy
    assert all(m.eos not in ids and len(ids) <= 25 for ids in greedy)
    if which == "trained":
        lengths_out = {len(ids) for ids in greedy}
        assert len(lengths_out) > 2 and min(lengths_out) < 25  # titles end at different steps


def test_padding_unknown_and_start_are_never_generated():
    m = random_writer(0)
    banned = [m.vocab.pad_id, m.vocab.unk_id, m.bos]
    with torch.no_grad():
        m.out.bias[banned] += 1000.0
    src, lengths = batch(m, TEXTS[:3])
    for ids in m.greedy(src, lengths, 10) + m.beam_search(src, lengths, 3, 10):
        assert ids and not set(ids) & set(banned)


def test_beam_search_finds_titles_at_least_as_probable_as_greedys(trained):
    m = trained
    src, lengths = batch(m, TEXTS)

    def log_prob(row: int, ids: list[int]) -> float:
        y = torch.tensor([[m.bos, *ids]])
        with torch.inference_mode():
            logp = m.next_log_probs(m(src[row : row + 1], lengths[row : row + 1], y)[0])
        return float(logp[torch.arange(len(ids) + 1), torch.tensor([*ids, m.eos])].sum())

    greedy = m.greedy(src, lengths, max_len=25)
    beam = m.beam_search(src, lengths, beam=4, max_len=25)
    compared = 0
    for row, (g, b) in enumerate(zip(greedy, beam)):
        if len(g) < 25 and len(b) < 25:  # both ended
            assert log_prob(row, b) >= log_prob(row, g) - 1e-4
            compared += 1
    assert compared >= 5


# --- ROUGE and the baselines -----------------------------------------------------------------------------

def test_rouge_on_hand_made_strings():
    # 机器学习方法 vs 深度学习方法研究: 4 common characters (学习方法), P 4/6, R 4/8 -> F1 4/7;
    # bigrams 学习 习方 方法 of 5 and 7 -> F1 1/2; the longest common subsequence is 学习方法 -> 4/7
    s = rouge(["机器学习方法"], ["深度学习方法研究"])
    assert s == pytest.approx({"rouge1": 4 / 7, "rouge2": 0.5, "rougeL": 4 / 7}, abs=1e-6)
    assert rouge_one("学习 方法", "学习方法") == pytest.approx({"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0})  # spaces ignored
    assert rouge_one("ＬＳＴＭ模型", "lstm模型")["rougeL"] == pytest.approx(1.0)  # full-width and case folded
    assert rouge_one("", "深度学习")["rouge1"] == 0.0
    # ROUGE-L is about order: the same characters reversed share a one-character subsequence
    assert rouge_one("甲乙丙丁", "丁丙乙甲") == pytest.approx({"rouge1": 1.0, "rouge2": 0.0, "rougeL": 0.25})
    # the mean over pairs
    assert rouge(["甲乙", "丙"], ["甲乙", "丁"])["rouge1"] == pytest.approx(0.5)


def test_sentences_clauses_lead_and_oracle():
    a = "采用修正的参数(MRP),建立了3.5个模型；利用刚体方程.仿真结果表明,用这种方法设计控制器简化了设计过程."
    assert sentences(a) == ["采用修正的参数(MRP),建立了3.5个模型；", "利用刚体方程.", "仿真结果表明,用这种方法设计控制器简化了设计过程."]
    assert first_clause(a) == "采用修正的参数(MRP)"
    assert first_clause("目的 观察补肾活血汤的疗效。方法") == "目的 观察补肾活血汤的疗效"
    assert lead(a, 5) == "采用修正的" and lead("没有标点", 19) == "没有标点"
    assert oracle(a, "控制器设计方法的简化") == "仿真结果表明,用这种方法设计控制器简化了设计过程."


# --- params ----------------------------------------------------------------------------------------------

def _load(path: Path) -> TitleParams:
    return load(path, "title", TitleParams, known_tasks=tasks.TASKS)[1]


@pytest.mark.parametrize(("edit", "key", "why"), [
    (lambda d: d["title"]["decode"].update(beam=0), "title.decode.beam", "greater than or equal to 1"),
    (lambda d: d["title"]["model"].update(priors=False), "title.model.priors", "unknown key"),
    (lambda d: d["title"]["evaluate"].update(beams=[1, 0]), "title.evaluate.beams.1", "greater than or equal to 1"),
    (lambda d: d["title"]["model"].update(heads=7), "title.model", "heads (7) must divide"),
    (lambda d: d["title"]["quick"]["train"].update(epoch=1), "title.quick.train.epoch", "unknown key"),
])
def test_bad_params_name_the_key(tmp_path, edit, key, why):
    with pytest.raises(ParamsError) as err:
        _load(params_file(tmp_path, edit))
    assert f"  {key}:" in str(err.value) and why in str(err.value), str(err.value)


def test_quick_profile_and_beam_override(tmp_path):
    quick = _load(params_file(tmp_path, lambda d: d.update(profile="quick")))
    full = _load(params_file(tmp_path, lambda d: d["title"]["decode"].update(beam=5)))
    assert quick.train.epochs < TitleParams().train.epochs and full.decode.beam == 5 and full.model == TitleParams().model


# --- the stages on a 20-pair file ----------------------------------------------------------------------

def test_stages_on_a_20_pair_file(tmp_path, capsys):
    raw, prepared, models, live = tmp_path / "raw", tmp_path / "prepared", tmp_path / "models", tmp_path / "live"
    metrics, plots_dir = tmp_path / "metrics.json", tmp_path / "eval"
    write_raw(raw)
    p, run = tiny_params(), cpu_run()

    title.preprocess(p, raw, prepared)
    stats = json.loads((prepared / "stats.json").read_text())
    assert (stats["pairs_read"], stats["duplicates_dropped"], stats["train_pairs"], stats["val_pairs"], stats["test_pairs"]) == \
        (24, 2, 16, 3, 3)
    test_pairs = load_pairs(prepared, "test")
    assert not set(test_pairs) & set(load_pairs(prepared, "train"))
    assert not any(prepared.glob(".*tmp*"))  # atomic writes leave no temporary files

    title.train(p, run, prepared, models, live)
    assert (models / "best.ckpt").is_file() and (models / "last.ckpt").is_file()
    assert json.loads((models / "summary.json").read_text())["epochs"] == 2

    title.evaluate(p, run, prepared, models, live, metrics, plots_dir)
    m = json.loads(metrics.read_text())
    assert m["test_pairs"] == 3 and set(m["by_beam"]) == {"beam1", "beam2", "beam3"}
    assert m["model"]["beam"] == 3 and m["model"]["prior"] is True
    for system in ("model", "lead", "oracle"):
        assert all(0 <= m[system][k] <= 1 for k in ("rouge1", "rouge2", "rougeL")), system
    assert m["lead"]["chars"] == round(stats["train_mean_title_chars"])
    assert m["oracle"]["rougeL"] >= 0.2  # one sentence of each abstract shares the topic with the title
    predictions = pd.read_csv(plots_dir / "predictions.csv")
    assert list(predictions["gold"]) == [t for _, t in test_pairs]
    page = (plots_dir / "examples.md").read_text(encoding="utf-8")
    assert page.count("\n| ") == 1 + 3 and test_pairs[0][1] in page  # header + one row per test pair (examples: 5 > 3)
    for name in ("examples.png", "scores.png", "scores.csv", "curves.png"):
        assert (plots_dir / name).stat().st_size > 0, name

    # predict: abstract in, title out
    abstracts = [a for a, _ in test_pairs]
    assert predict_main(["--models", str(models), "--params", str(tmp_path / "none.yaml"), "--beam", "1", *abstracts]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 3
    writer = TitleWriter.load_from_checkpoint(models / "best.ckpt", map_location="cpu")
    assert printed == writer.write_titles(abstracts, 1, TitleParams().decode.max_len)


def test_compute_scores_every_system_and_writes_nothing(tmp_path):
    from kexue.tasks.title.evaluate import compute

    raw, prepared, models = tmp_path / "raw", tmp_path / "prepared", tmp_path / "models"
    write_raw(raw)
    p, run = tiny_params(train={"epochs": 1}, evaluate={"examples": 2}), cpu_run()
    title.preprocess(p, raw, prepared)
    title.train(p, run, prepared, models, tmp_path / "live")
    before = sorted(tmp_path.rglob("*"))
    e = compute(p, run, prepared, models)
    assert sorted(tmp_path.rglob("*")) == before
    m = e.metrics
    assert m["test_pairs"] == 3 and set(m["by_beam"]) == {"beam1", "beam2", "beam3"} and m["epochs"] == 1
    assert [r["system"] for r in e.scores] == ["model (beam 3)", "lead", "oracle", "model, beam 1", "model, beam 2", "model, beam 3"]
    assert all(0 <= r[k] <= 1 for r in e.scores for k in ("rouge1", "rouge2", "rougeL"))
    keys = ("rouge1", "rouge2", "rougeL")
    assert {k: e.scores[0][k] for k in keys} == {k: m["by_beam"]["beam3"][k] for k in keys}  # the model: beam 3
    assert [r["gold"] for r in e.per_pair] == [t for _, t in load_pairs(prepared, "test")] and e.examples == 2
    assert e.page_title.startswith("2 test abstracts")
    assert list(m)[-3:] == ["eval_device", "prior_scale_mean", "eval_wall_time_s"]


def test_missing_inputs_name_the_stage_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="dev.tsv: missing; run the title-download stage first"):
        title.preprocess(tiny_params(), tmp_path, tmp_path / "prepared")
    with pytest.raises(FileNotFoundError, match="test.jsonl: missing; run the title-preprocess stage first"):
        load_pairs(tmp_path, "test")
