"""kexue.text: jieba/char tokenisation and its cache, vocabularies, padding and bucketing, word2vec's
vectors as starting embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kexue.errors import DataFormatError
from kexue.params import ParamsError
from kexue.text.batching import BucketBatchSampler, pad_batch
from kexue.text.pretrained import init_embedding, learn_vectors, read_vectors
from kexue.text.tokenize import Tokenizer
from kexue.text.vocab import PAD, UNK, Vocab

TEXTS = ["这本书写得很好，值得一读。", "酒店服务太差了 再也不来", "Good phone 很喜欢"]


def test_word_and_char_tokens(tmp_path):
    words = Tokenizer("word", cache=tmp_path)(TEXTS[0])
    assert "".join(words) == TEXTS[0] and any(len(w) > 1 for w in words)  # jieba joins characters into words
    chars = Tokenizer("char", cache=tmp_path)(TEXTS[1])
    assert chars == [c for c in TEXTS[1] if c != " "]


def test_cache_is_reused_and_survives_corruption(tmp_path):
    first = Tokenizer("word", cache=tmp_path)
    tokens = first.many(TEXTS)
    assert (first.misses, first.hits) == (3, 0)
    first.save()
    second = Tokenizer("word", cache=tmp_path)
    assert second.many(TEXTS) == tokens and (second.misses, second.hits) == (0, 3)
    second.path.write_bytes(b"not a pickle")
    third = Tokenizer("word", cache=tmp_path)
    assert third.many(TEXTS) == tokens and third.misses == 3


def test_vocab_min_count_specials_and_unknowns(tmp_path):
    v = Vocab.build([["好", "好", "差"], ["好", "书"]], min_count=2)
    assert v.itos == [PAD, UNK, "好"]
    assert v.encode(["好", "差", "新"]) == [2, 1, 1]
    capped = Vocab.build([list("aabbbc")], max_size=3)
    assert capped.itos == [PAD, UNK, "b"]
    v.save(tmp_path / "vocab.json")
    assert Vocab.load(tmp_path / "vocab.json").itos == v.itos


def test_pad_batch():
    ids, lengths = pad_batch([[5, 6, 7], [8], []], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0], [0, 0, 0]] and lengths.tolist() == [3, 1, 1]
    ids, lengths = pad_batch([[1, 2, 3, 4]], max_len=2)
    assert ids.tolist() == [[1, 2]] and lengths.tolist() == [2]


def test_bucket_sampler_covers_every_index_once_and_groups_lengths():
    lengths = torch.randint(1, 200, (1000,), generator=torch.Generator().manual_seed(0)).tolist()
    sampler = BucketBatchSampler(lengths, batch_size=32, seed=1, pool=10)
    batches = list(sampler)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(1000)) and len(batches) == len(sampler)
    assert batches == list(BucketBatchSampler(lengths, batch_size=32, seed=1, pool=10))  # seeded
    sampler.set_epoch(1)
    assert list(sampler) != batches  # a new order each epoch
    # within a batch the lengths are close: far less spread than in a random batch
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 40


def test_lightning_gives_the_bucket_sampler_a_new_epoch_each_epoch():
    """Lightning hands the epoch only to a DataLoader's sampler and batch_sampler.sampler: the
    batches a real Trainer sees must change each epoch, and be the sampler's own for that epoch."""
    import lightning as L
    from torch.utils.data import DataLoader

    lengths = torch.randint(1, 50, (40,), generator=torch.Generator().manual_seed(0)).tolist()
    seen: list[list[list[int]]] = []

    class Record(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def on_train_epoch_start(self) -> None:
            seen.append([])

        def training_step(self, batch, i):
            seen[-1].append(batch.tolist())
            return (self.w * batch.float()).sum()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.0)

    loader = DataLoader(list(range(40)), batch_sampler=BucketBatchSampler(lengths, batch_size=8, seed=3, pool=2))
    L.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False).fit(Record(), loader)
    assert len(seen) == 3 and seen[0] != seen[1] and seen[1] != seen[2]
    for epoch, batches in enumerate(seen):
        expected = BucketBatchSampler(lengths, batch_size=8, seed=3, pool=2)
        expected.set_epoch(epoch)
        assert batches == list(expected)


def test_near_duplicates_share_a_run_of_characters():
    from kexue.text import near_duplicates as nd

    texts = [
        "很实用的机器，加内存时一看背后没有能开的小盖子。",  # 0
        "比较实用的机器，加内存时一看背后没有能开的小盖子!",  # 1: one word changed -> same group as 0
        "房间很干净，服务也好",  # 2: too short to share a 20-character run with anything
        "房间 很干净 服务也好。",  # 3: equal to 2 once spaces and punctuation go
        "……",  # 4: nothing left after normalising: matches nothing
        "！！",  # 5
        "背后没有能开的小盖子", # 6: a short text inside 0 and 1 is not a 20-character run
    ]
    assert nd.normalise("Ａ B，c") == "ａbc"
    assert nd.groups(texts, 20) == [0, 0, 1, 1, 2, 3, 4]
    assert nd.groups(texts, 1000) == [0, 1, 2, 2, 3, 4, 5]  # only texts equal after normalising
    index = nd.ChunkIndex(texts[:1], 20)
    assert index.touches("前面的字不同：实用的机器，加内存时一看背后没有能开的小盖子") and not index.touches(texts[2])


def test_pretrained_vectors_of_the_wrong_size_name_the_key(tmp_path):
    vocab = Vocab.build([["小猴", "小熊"]])
    path = tmp_path / "vectors.txt"
    path.write_text("2 3\n小猴 0.1 0.2 0.3\n狐狸 1 2 3\n", encoding="utf-8")
    table, found = read_vectors(path, vocab, 3, "cloze.model.embed_dim")
    assert found.tolist() == [False, False, True, False] and table[2].tolist() == pytest.approx([0.1, 0.2, 0.3])
    with pytest.raises(ParamsError, match=r"sentiment\.model\.embed_dim is 8 .* set sentiment\.model\.embed_dim: 3"):
        read_vectors(path, vocab, 8, "sentiment.model.embed_dim")
    with pytest.raises(FileNotFoundError, match=r"sentiment\.model\.pretrained: none"):
        read_vectors(tmp_path / "missing.txt", vocab, 3, "sentiment.model.embed_dim")
    path.write_text("2 3\n小猴 0.1 0.2\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="vectors.txt:2"):
        read_vectors(path, vocab, 3, "cloze.model.embed_dim")


def test_init_embedding_scales_found_vectors_to_the_random_spread_and_keeps_the_rest():
    torch.manual_seed(0)
    embed = torch.nn.Embedding(1000, 4, padding_idx=0)
    before = embed.weight.detach().clone()
    table = np.zeros((1000, 4), dtype=np.float32)
    found = np.zeros(1000, dtype=bool)
    found[2:500] = True
    table[2:500] = np.random.default_rng(0).normal(0, 5.0, (498, 4))  # 5x the random init's spread
    init_embedding(embed.weight, table, found)
    w = embed.weight.detach()
    assert torch.equal(w[~torch.from_numpy(found)], before[~torch.from_numpy(found)])  # pad, unk, unfound: untouched
    scale = float(before[2:].std()) / float(table[found].std())
    assert torch.allclose(w[2:500], torch.from_numpy(table[2:500]) * scale)  # one scale for all: directions kept
    assert float(w[2:500].std()) == pytest.approx(float(before[2:].std()), rel=1e-3)
    init_embedding(embed.weight, table, np.zeros(1000, dtype=bool))  # nothing found: nothing changes
    assert torch.equal(embed.weight.detach(), w)


def test_learnt_vectors_put_words_of_the_same_contexts_together_and_repeat_with_the_seed():
    # 好 and 棒 share their contexts, as do 差 and 烂; the two pairs share none
    rng = np.random.default_rng(0)
    good, bad = ["质量", "服务", "价格", "屏幕"], ["房间", "早餐", "电池", "物流"]
    sentences = [[*rng.choice(ctx, 2), str(rng.choice(pair)), *rng.choice(ctx, 2)]
                 for ctx, pair in [(good, ["好", "棒"]), (bad, ["差", "烂"])] for _ in range(300)]
    settings = dict(window=2, negative=5, sample=0.0, epochs=20, min_count=2)
    words, matrix = learn_vectors(sentences, 8, seed=1, **settings)
    assert matrix.shape == (len(words), 8) and matrix.dtype == np.float32 and set(words) == {*good, *bad, "好", "棒", "差", "烂"}
    unit = {w: v / np.linalg.norm(v) for w, v in zip(words, matrix)}
    assert unit["好"] @ unit["棒"] > unit["好"] @ unit["差"] + 0.3
    assert unit["差"] @ unit["烂"] > unit["差"] @ unit["棒"] + 0.3
    again_words, again = learn_vectors(sentences, 8, seed=1, **settings)
    assert again_words == words and np.array_equal(again, matrix)  # one worker: the same seed, the same vectors
    assert not np.array_equal(learn_vectors(sentences, 8, seed=2, **settings)[1], matrix)
