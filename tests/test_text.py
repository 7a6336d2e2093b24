"""kexue.text: jieba/char tokenisation and its cache, vocabularies, padding and bucketing."""

from __future__ import annotations

import torch

from kexue.text.batching import BucketBatchSampler, pad_batch
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
