"""A vocabulary built from training tokens only: min-count, optional size cap, special tokens.

Ours rather than torchtext's: torchtext is deprecated and pinned to old torch releases."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

PAD, UNK = "<pad>", "<unk>"


class Vocab:
    def __init__(self, itos: Sequence[str]) -> None:
        self.itos = list(itos)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("vocabulary has repeated tokens")
        if self.itos[:2] != [PAD, UNK]:
            raise ValueError(f"vocabulary must start with {PAD!r}, {UNK!r}")

    pad_id, unk_id = 0, 1

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], min_count: int = 1, max_size: int = 0, specials: Sequence[str] = ()) -> Vocab:
        """Tokens seen at least `min_count` times, most frequent first (ties: first seen first),
        after <pad>, <unk> and `specials`; at most `max_size` entries in all when > 0."""
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        head = [PAD, UNK, *specials]
        words = [t for t, n in counts.most_common() if n >= min_count and t not in head]
        if max_size:
            words = words[: max(0, max_size - len(head))]
        return cls(head + words)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self.stoi.get(t, self.unk_id) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids]

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.itos, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Vocab:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))
