"""cws data, segmenter and stages on a small cut of the real files (same formats)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
import torch

from kexue.errors import DataFormatError
from kexue.tasks import cws
from kexue.tasks.cws import data
from kexue.tasks.cws.bigrams import count_pairs
from kexue.tasks.cws.model import Segmenter
from kexue.tasks.cws.params import CwsParams
from kexue.tasks.cws.segment import main as segment_main
from kexue.tasks.cws.tags import TAG_ID, words_to_tags
from kexue.text.vocab import Vocab
from tests.conftest import cpu_run

PARAGRAPHS = 300
TEST_LINES = 60


@pytest.fixture
def raw(mirror: Path, tmp_path: Path) -> Path:
    """The first paragraphs / lines of the real files; one PKU test line planted in the training text."""
    src, out = mirror / "cws", tmp_path / "raw"
    out.mkdir()
    for name in data.FILES:
        lines = (src / name).read_text(encoding="utf-8").splitlines(keepends=True)
        keep = lines if "words" in name else lines[: PARAGRAPHS if name == data.TRAIN_TEXT else TEST_LINES]
        (out / name).write_text("".join(keep), encoding="utf-8", newline="")
    gold = (out / "pku_test_gold.utf8").read_text(encoding="utf-8").splitlines()[5].split()
    with open(out / data.TRAIN_TEXT, "a", encoding="utf-8") as f:
        f.write("  ".join(f"{w}/x" for w in gold) + "\n")
    return out


def tiny_params(**train: object) -> CwsParams:
    return CwsParams.model_validate({
        "data": {"val_fraction": 0.1},
        "model": {"embed_dim": 16, "hidden": 16},
        "train": {"epochs": 1, "batch_size": 32, "lr": 0.01, **train},
        "evaluate": {"batch_size": 64},
    })


def test_reading_strips_pos_tags_and_names_bad_tokens(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("迈向/v  充满/v  希望/n\n\n江/nr  泽民/nr\n", encoding="utf-8")
    assert data.read_pos_tagged(good) == [["迈向", "充满", "希望"], ["江", "泽民"]]
    bad = tmp_path / "bad.txt"
    bad.write_text("迈向/v  充满/v\n希望  的/u\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"bad.txt:2: '希望' is not a word/POS pair"):
        data.read_pos_tagged(bad)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9/n".encode("latin-1"))
    with pytest.raises(DataFormatError, match="latin1.txt: not UTF-8"):
        data.read_pos_tagged(latin1)


def test_sentences_are_cut_at_punctuation_and_length():
    para = ["今天", "下雨", "。", "明天", "晴", "！", "后天", "呢"]
    assert data.sentences(para, 150) == [["今天", "下雨", "。"], ["明天", "晴", "！"], ["后天", "呢"]]
    assert data.sentences(["一二三", "四五", "六七八九"], 5) == [["一二三", "四五"], ["六七八九"]]


def test_normalize_folds_full_width_digits_and_letters():
    assert [data.normalize(c) for c in "１２Ａ中"] == ["1", "2", "A", "中"]


def test_preprocess_finds_the_planted_test_line_and_drops_it(raw, tmp_path):
    prepared = tmp_path / "prepared"
    cws.preprocess(tiny_params(), cpu_run(), raw, prepared)
    stats = json.loads((prepared / data.STATS).read_text())
    # the planted line, and the real caption "（新华社记者兰红光摄）" (PKU test line 18, paragraph 4)
    assert stats["pku_test_lines_in_training_text"] == 2
    assert stats["training_sentences_dropped_for_test_overlap"] >= 1
    planted = "".join((raw / "pku_test_gold.utf8").read_text(encoding="utf-8").splitlines()[5].split())
    vocab = json.loads((prepared / data.VOCAB).read_text(encoding="utf-8"))
    for split in data.SPLITS:
        ids, tags = data.load_split(prepared, split)
        assert all(len(i) == len(t) for i, t in zip(ids, tags))
        texts = {"".join(vocab[k] for k in seq) for seq in ids}
        assert planted not in texts
    assert stats["train_sentences"] + stats["val_sentences"] == stats["sentences"] - stats["training_sentences_dropped_for_test_overlap"]


def test_missing_file_names_the_stage(tmp_path):
    with pytest.raises(FileNotFoundError, match="cws-download"):
        cws.preprocess(tiny_params(), cpu_run(), tmp_path, tmp_path / "prepared")


def _untrained(vocab: list[str]) -> Segmenter:
    torch.manual_seed(0)
    p = tiny_params()
    return Segmenter(vocab, p.model.model_dump(), p.train.model_dump())


@pytest.mark.parametrize(("encoder", "bigram_dim"), [("bilstm", 0), ("cnn", 0), ("bilstm", 8)])
def test_a_few_steps_lower_the_loss(encoder, bigram_dim):
    vocab = ["<pad>", "<unk>", *"中国人民共和万岁"]
    p = CwsParams.model_validate(
        {"model": {"embed_dim": 16, "hidden": 16, "encoder": encoder, "dropout": 0.0, "bigram_dim": bigram_dim}}
    )
    words = [["中国", "人民", "万岁"], ["共和国", "万岁"], ["人民", "共和国"]] * 4
    ids = [Vocab(vocab).encode(list("".join(w))) for w in words]
    pairs = count_pairs(ids, len(vocab), min_count=1)
    torch.manual_seed(0)
    module = Segmenter(vocab, p.model.model_dump(), p.train.model_dump(), n_bigrams=len(pairs) if bigram_dim else 0)
    if bigram_dim:
        module.encoder.bigrams.set_keys(pairs)
    tags = [[TAG_ID[t] for t in words_to_tags(w)] for w in words]
    from kexue.tasks.cws.data import collate

    batch = collate(list(zip(ids, tags)))
    opt = torch.optim.Adam(module.parameters(), lr=0.05)
    first = module._loss(batch).item()
    for _ in range(30):
        loss = module._loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first
    assert module.segment(["中国人民万岁"]) == [["中国", "人民", "万岁"]]


def test_segmenter_survives_empty_lines_mixed_scripts_and_keeps_every_character():
    module = _untrained(["<pad>", "<unk>", *"中国人"])
    lines = ["", "   ", "中国人 Hello world１２３ＡＢＣ,。", "x", "\t中\t"]
    out = module.segment(lines)
    assert out[0] == [] and out[1] == []
    for line, words in zip(lines, out):
        assert "".join(words) == "".join(line.split())
        assert all(w and not any(c.isspace() for c in w) for w in words)


def test_train_evaluate_and_segment_command(raw, tmp_path, monkeypatch, capsys):
    prepared, models, live = tmp_path / "prepared", tmp_path / "models", tmp_path / "live"
    p = tiny_params()
    cws.preprocess(p, cpu_run(), raw, prepared)
    cws.train(p, cpu_run(), prepared, models, live)
    metrics, plots_dir = tmp_path / "cws.json", tmp_path / "eval"
    cws.evaluate(p, cpu_run(), raw, models, live, metrics, plots_dir)
    m = json.loads(metrics.read_text())
    for name in ("pku", "msr"):
        for who in ("ours", "jieba"):
            s = m[f"{name}_{who}"]
            assert 0 <= s["f1"] <= 1 and s["gold_words"] > 0
    assert m["pku_jieba"]["f1"] > 0.7  # jieba on the real PKU lines: a sanity anchor for the scorer
    assert m["ours_chars_per_s"] > 0 and m["jieba_chars_per_s"] > 0
    for f in ("scores.csv", "scores.png", "pku_errors.csv"):
        assert (plots_dir / f).is_file(), f

    monkeypatch.setattr(sys, "stdin", io.StringIO("共同创造美好的新世纪\n\nHello 世界\n"))
    assert segment_main(["--models", str(models)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[1] == ""
    assert "".join(out[0].split()) == "共同创造美好的新世纪"


def test_compute_scores_both_segmenters_and_writes_nothing(raw, tmp_path):
    from kexue.tasks.cws.evaluate import EXAMPLES, compute

    prepared, models = tmp_path / "prepared", tmp_path / "models"
    p = tiny_params()
    cws.preprocess(p, cpu_run(), raw, prepared)
    cws.train(p, cpu_run(), prepared, models, tmp_path / "live")
    before = sorted(tmp_path.rglob("*"))
    e = compute(p, cpu_run(), raw, models)
    assert sorted(tmp_path.rglob("*")) == before
    m = e.metrics
    assert list(m)[:4] == ["pku_ours", "pku_jieba", "msr_ours", "msr_jieba"]
    assert [(r["test"], r["segmenter"]) for r in e.scores] == [("pku", "ours"), ("pku", "jieba"), ("msr", "ours"), ("msr", "jieba")]
    assert all(r["f1"] == m[f"{r['test']}_{r['segmenter']}"]["f1"] and 0 <= r["f1"] <= 1 for r in e.scores)
    assert m["pku_jieba"]["f1"] > 0.7 and m["test_chars"] > 0 and m["epochs"] == 1
    assert 0 < len(e.errors) <= EXAMPLES and all(r["ours"] != r["gold"] for r in e.errors)


def test_ema_checkpoint_holds_the_average_and_intact_pair_keys(raw, tmp_path):
    prepared, models = tmp_path / "prepared", tmp_path / "models"
    p = tiny_params(ema_decay=0.9)
    cws.preprocess(p, cpu_run(), raw, prepared)
    cws.train(p, cpu_run(), prepared, models, tmp_path / "live")
    ckpt = torch.load(models / "last.ckpt", map_location="cpu", weights_only=False)
    average, current = ckpt["state_dict"], ckpt["current_model_state"]
    assert not torch.equal(average["encoder.out.weight"], current["encoder.out.weight"])
    keys = torch.as_tensor(data.load_bigrams(prepared))
    assert torch.equal(average["encoder.bigrams.keys"], keys) and torch.equal(current["encoder.bigrams.keys"], keys)
    # evaluation loads the average
    module = Segmenter.load_from_checkpoint(models / "last.ckpt", map_location="cpu")
    assert torch.equal(module.encoder.out.weight, average["encoder.out.weight"])


def test_segment_without_a_model_names_the_stage(tmp_path, capsys):
    assert segment_main(["--models", str(tmp_path)]) == 1
    assert "cws-train" in capsys.readouterr().err
