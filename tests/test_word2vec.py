"""word2vec data and stages on the first lines of the real files: sentences and tokens, the
exported vectors (read by gensim, the same numbers), the neighbours command, resuming, the
metrics."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from kexue import plots, tasks
from kexue.errors import DataFormatError, InputError
from kexue.params import ParamsError, load
from kexue.tasks import word2vec
from kexue.tasks.word2vec import data, quality
from kexue.tasks.word2vec.neighbours import main as neighbours_main
from kexue.tasks.word2vec.params import Word2VecParams
from kexue.text import corpora
from kexue.text.vectors import load_text, save_text
from kexue.text.vocab import Vocab
from tests.conftest import REPO, KillAfterFirstEpoch, Killed, cpu_run, params_file

train_mod = importlib.import_module("kexue.tasks.word2vec.train")  # the package exports a function of that name

LINES = 240  # of each real file: ~40k words in all


@pytest.fixture
def raw(mirror: Path, tmp_path: Path) -> Path:
    """The first lines of the five real files, byte for byte (CRLF kept)."""
    out = tmp_path / "raw"
    out.mkdir()
    for remote in corpora.REMOTES:
        lines = (mirror / remote.dataset / remote.name).read_bytes().split(b"\n")[:LINES]
        (out / remote.name).write_bytes(b"\n".join(lines) + b"\n")
    return out


def tiny(**train) -> Word2VecParams:
    return Word2VecParams.model_validate({
        "data": {"min_count": 2},
        "model": {"dim": 16, "window": 3},
        "train": {"epochs": 1, "batch_words": 500, "updates_per_step": 4, **train},
        "evaluate": {"overlap_words": 50, "pca_words": 40},
    })


def test_repo_params_full_and_quick(tmp_path):
    _, full = load(REPO / "params.yaml", "word2vec", Word2VecParams, known_tasks=tasks.TASKS)
    assert full.data.max_chars == 0 and full.model.arch == "sg" and tasks.stages("word2vec") == tasks.STAGES
    quick_file = params_file(tmp_path, lambda d: d.update(profile="quick"))
    _, quick = load(quick_file, "word2vec", Word2VecParams, known_tasks=tasks.TASKS)
    assert quick.data.max_chars > 0 and quick.train.epochs < full.train.epochs and quick.model == full.model
    bad = params_file(tmp_path, lambda d: d["word2vec"]["model"].update(arch="glove"))
    with pytest.raises(ParamsError, match=r"word2vec\.model\.arch"):
        load(bad, "word2vec", Word2VecParams, known_tasks=tasks.TASKS)
    with pytest.raises(ValueError, match="min_alpha"):
        Word2VecParams.model_validate({"train": {"alpha": 0.01, "min_alpha": 0.1}})


def test_novel_sentences_end_at_marks_and_closing_quotes():
    text = "    他道：“好。”又说了一句！然后……走了．\r\n\r\n    第二段；没有句号"
    assert [s for line in text.splitlines() for s in corpora.split_sentences(line.strip())] == [
        "他道：“好。”", "又说了一句！", "然后……", "走了．", "第二段；", "没有句号"]
    assert corpora.is_punctuation("“") and corpora.is_punctuation("……") and corpora.is_punctuation("——")
    assert not corpora.is_punctuation("好") and not corpora.is_punctuation("１２月")


def test_news_keeps_its_segmentation_without_tags():
    text = "迈向/v  充满/v  希望/n  的/u  新/a  世纪/n  。/w  中共中央/nt  总书记/n\n１２月/t  ３１日/t  ！/w\n"
    assert list(corpora.news_sentences(text)) == [
        ["迈向", "充满", "希望", "的", "新", "世纪", "。"], ["中共中央", "总书记"], ["１２月", "３１日", "！"]]
    with pytest.raises(DataFormatError, match=r"199801\.txt:2: '３１日' is not a word/POS pair"):
        list(corpora.news_sentences("迈向/v\n３１日\n"))


def test_a_missing_corpus_file_names_word2vecs_download_stage(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"三国演义\.txt: missing; run the word2vec-download stage first"):
        word2vec.preprocess(tiny(), tmp_path, tmp_path / "prepared")


def test_preprocess_the_first_lines_of_the_real_files(raw, tmp_path):
    out = tmp_path / "prepared"
    word2vec.preprocess(tiny(), raw, out)
    stats = json.loads((out / data.STATS).read_text())
    assert set(stats["sources"]) == set(data.SOURCES) and all(s["words"] > 1000 for s in stats["sources"].values())
    corpus = data.Corpus(out)
    vocab = corpus.vocab
    assert len(corpus) == stats["words_kept"] and corpus.offsets[-1] == len(corpus.ids)
    assert np.array_equal(corpus.counts, np.bincount(corpus.ids, minlength=len(vocab)))
    assert corpus.counts[Vocab.pad_id] == corpus.counts[Vocab.unk_id] == 0  # rare words dropped, not <unk>
    assert corpus.counts[2:].min() >= 2 and not any(corpora.is_punctuation(w) for w in corpus.words())
    # the news keeps the PKU segmentation: its first sentence, as tagged, less punctuation
    news = [i for i, k in enumerate(corpus.source) if data.SOURCES[k] == corpora.NEWS][0]
    first = corpus.ids[corpus.offsets[news] : corpus.offsets[news + 1]]
    assert vocab.decode(first)[:4] == ["迈向", "充满", "希望", "的"]
    # jieba cut the novels: a name from the first lines of 三国演义 is one word
    assert "刘备" in vocab.stoi or "玄德" in vocab.stoi


def test_exported_file_loads_in_gensim_with_the_same_vectors(tmp_path):
    from gensim.models import KeyedVectors

    words = ["孔明", "玄德", "的", "ＡＢ", "x"]
    matrix = (np.random.default_rng(0).normal(size=(5, 7)) * 10.0 ** np.arange(-3, 4)).astype(np.float32)
    path = tmp_path / "v.txt"
    save_text(path, words, matrix)
    kv = KeyedVectors.load_word2vec_format(str(path), binary=False)
    assert kv.index_to_key == words and np.array_equal(kv.vectors, matrix)  # exact float32 round trip
    ours = load_text(path)
    assert ours.words == words and np.array_equal(ours.matrix, matrix)
    # and gensim's own writer's output reads back through ours
    kv.save_word2vec_format(str(tmp_path / "g.txt"), binary=False)
    assert np.array_equal(load_text(tmp_path / "g.txt").matrix, matrix)
    with pytest.raises(ValueError, match="cannot hold"):
        save_text(tmp_path / "bad.txt", ["a b"], matrix[:1])


def test_neighbours_command(tmp_path, capsys):
    path = tmp_path / "v.txt"
    save_text(path, ["孔明", "玄德", "云长", "北京"], np.array([[1, 0], [0.9, 0.1], [0.7, 0.3], [0, 1]], np.float32))
    assert neighbours_main(["--vectors", str(path), "-n", "2", "孔明"]) == 0
    out = capsys.readouterr().out.split()
    assert out[:5] == ["孔明:", "0.994", "玄德", "0.919", "云长"]
    assert neighbours_main(["--vectors", str(path), "诸葛亮"]) == 1
    err = capsys.readouterr().err
    assert "'诸葛亮' is not in the vocabulary (4 words" in err and "Traceback" not in err
    assert neighbours_main(["--vectors", str(tmp_path / "none.txt"), "孔明"]) == 1
    assert "run the word2vec-train stage first" in capsys.readouterr().err


def test_the_questions_are_all_pairs_of_pairs(tmp_path):
    categories = quality.read_pairs()
    assert len(categories) == 7 and sum(len(c.pairs) for c in categories) == 118
    assert [c.alias for c in categories] == [True] * 4 + [False] * 3
    n = quality.write_questions(categories, tmp_path / "q.txt")
    assert n == sum(len(c.pairs) * (len(c.pairs) - 1) for c in categories)
    lines = (tmp_path / "q.txt").read_text(encoding="utf-8").splitlines()
    assert lines[:2] == [": sanguo-courtesy-names", "刘备 玄德 关公 云长"]


def _train(p, prepared, root, **kw):
    train_mod.train(p, cpu_run(), prepared, root / "models", root / "live", root / "vectors.txt", root / "gensim", **kw)


def test_stages_resume_and_compare_with_gensim(raw, tmp_path, monkeypatch):
    prepared = tmp_path / "prepared"
    word2vec.preprocess(tiny(), raw, prepared)

    # Uninterrupted, two epochs, with gensim beside it; then evaluate.
    p = tiny(epochs=2)
    _train(p, prepared, tmp_path / "a")
    a = tmp_path / "a"
    ours = load_text(a / "vectors.txt")
    ckpt = torch.load(a / "models" / "last.ckpt", map_location="cpu", weights_only=False)
    assert np.array_equal(ours.matrix, ckpt["state_dict"]["w_in"][2:].numpy())  # the export is the trained table
    assert ours.words == data.Corpus(prepared).words()
    timing = json.loads((a / "gensim" / "timing.json").read_text())
    assert timing["trained"] and timing["words"] == 2 * len(data.Corpus(prepared)) and timing["words_per_s"] > 0
    word2vec.evaluate(p, prepared, a / "vectors.txt", a / "gensim", a / "models", a / "metrics.json", a / "eval")
    m = json.loads((a / "metrics.json").read_text())
    assert m["words_per_s"] > 0 and m["speed_ratio"] == pytest.approx(m["words_per_s"] / m["gensim_words_per_s"], rel=1e-2)
    assert m["cpu_speed_ratio"] == pytest.approx(m["words_per_cpu_s"] / m["gensim_words_per_cpu_s"], rel=1e-2)
    assert 0 <= m["neighbour_overlap"] <= 1 and m["vocab_size"] == len(ours.words)
    assert set(m["per_category"]) == {c.name for c in quality.read_pairs()}
    for f in ("pca.png", "analogy.png", "analogy.csv", "neighbour_overlap.csv", "analogy_questions.txt"):
        assert (a / "eval" / f).is_file(), f

    # Without a font that draws Chinese (the PCA picture needs one): a clear error before any output.
    def no_font() -> str:
        raise InputError("no font with Chinese glyphs found")

    monkeypatch.setattr(plots, "cjk_font", no_font)
    with pytest.raises(InputError, match="Chinese"):
        word2vec.evaluate(p, prepared, a / "vectors.txt", a / "gensim", a / "models", a / "nofont.json", a / "nofont")
    assert not (a / "nofont.json").exists() and not (a / "nofont").exists()
    monkeypatch.undo()

    # Killed after epoch 1, rerun: resumes and ends with the very same vectors.
    p = tiny(epochs=2, gensim=False)
    real_build = train_mod.build_trainer

    def build_with_kill(*args, **kwargs):
        return real_build(*args, **{**kwargs, "callbacks": [KillAfterFirstEpoch()]})

    monkeypatch.setattr(train_mod, "build_trainer", build_with_kill)
    with pytest.raises(Killed):
        _train(p, prepared, tmp_path / "b")
    monkeypatch.setattr(train_mod, "build_trainer", real_build)
    _train(p, prepared, tmp_path / "b")
    summary = json.loads((tmp_path / "b" / "models" / "summary.json").read_text())
    assert summary["resumed"] and summary["timed_epochs_words"] == len(data.Corpus(prepared))  # one epoch ran here
    assert np.array_equal(load_text(tmp_path / "b" / "vectors.txt").matrix, ours.matrix)
    assert json.loads((tmp_path / "b" / "gensim" / "timing.json").read_text()) == {"trained": False}


def test_compute_compares_with_gensim_and_writes_nothing(raw, tmp_path):
    from kexue.tasks.word2vec.evaluate import compute

    prepared = tmp_path / "prepared"
    word2vec.preprocess(tiny(), raw, prepared)
    p = tiny()
    _train(p, prepared, tmp_path)
    before = sorted(tmp_path.rglob("*"))
    e = compute(p, prepared, tmp_path / "vectors.txt", tmp_path / "gensim", tmp_path / "models")
    assert sorted(tmp_path.rglob("*")) == before
    m, words = e.metrics, data.Corpus(prepared).words()
    assert e.models == ("ours", "gensim") and m["vocab_size"] == len(words) and m["epochs"] == 1
    assert m["analogy_questions"] == e.per_category["questions"].sum() and 0 <= m["neighbour_overlap"] <= 1
    assert list(e.per_category.columns) == ["category", "questions", "ours", "gensim"] and len(e.per_category) == 7
    assert len(e.overlap) == 50 and e.overlap["overlap"].between(0, 1).all()
    shown, vectors = e.pca["ours"]
    assert shown == words[p.evaluate.pca_skip : p.evaluate.pca_skip + 40] and vectors.shape == (40, 16)
    assert m["speed_ratio"] == pytest.approx(m["words_per_s"] / m["gensim_words_per_s"], rel=1e-2)


def test_a_diverging_run_stops_with_a_message(tmp_path):
    """16 words, large steps: every update sums ~100 changes of each word and the loss blows up."""
    from kexue import files
    from kexue.tasks.word2vec.model import Diverged

    ids = np.random.default_rng(0).integers(2, 18, 20_000).astype(np.int32)
    files.save_npz(tmp_path / "prepared" / data.CORPUS, ids=ids, offsets=np.arange(0, 20_001, 10),
                   counts=np.bincount(ids, minlength=18), source=np.zeros(2000, np.int8))
    Vocab(["<pad>", "<unk>", *(f"w{i}" for i in range(16))]).save(tmp_path / "prepared" / data.VOCAB)
    p = Word2VecParams.model_validate({"model": {"dim": 16, "window": 3, "sample": 0},
                                       "train": {"epochs": 3, "alpha": 0.05, "batch_words": 2000, "gensim": False}})
    with pytest.raises(Diverged, match="lower word2vec.train.batch_words or word2vec.train.alpha"):
        _train(p, tmp_path / "prepared", tmp_path)
