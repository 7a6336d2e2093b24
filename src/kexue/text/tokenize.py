"""Tokenisation of Chinese text: jieba words or single characters, with an on-disk cache.

jieba segments ~1-2k short reviews per second on one core; a pipeline that re-tokenises the same
corpus on every rerun wastes that. `Tokenizer` remembers every text it has cut, keyed by a hash of
the text, the mode and the jieba version, in one pickle per (mode, version) under the cache folder
(`KEXUE_CACHE`, default `~/.cache/kexue`). The cache only saves time: a missing or unreadable cache
file is rebuilt, and the tokens are the same either way.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import jieba

log = logging.getLogger(__name__)

Mode = Literal["word", "char"]

jieba.setLogLevel(logging.WARNING)


def cache_dir() -> Path:
    return Path(os.environ.get("KEXUE_CACHE", Path.home() / ".cache" / "kexue"))


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def cut(text: str, mode: Mode) -> list[str]:
    """Tokens of one text, whitespace dropped: jieba's precise mode, or one token per character."""
    if mode == "char":
        return [c for c in text if not c.isspace()]
    return [w for w in jieba.lcut(text, HMM=True) if w.strip()]


class Tokenizer:
    def __init__(self, mode: Mode = "word", cache: Path | None | Literal[False] = None) -> None:
        if mode not in ("word", "char"):
            raise ValueError(f"tokenizer mode must be 'word' or 'char', got {mode!r}")
        self.mode = mode
        self.path = None if cache is False else Path(cache or cache_dir()) / f"tokens-{mode}-jieba{jieba.__version__}.pkl"
        self._memo: dict[bytes, list[str]] = self._load()
        self._dirty = False
        self.hits = self.misses = 0

    def _load(self) -> dict[bytes, list[str]]:
        if self.path is None or not self.path.is_file():
            return {}
        try:
            with open(self.path, "rb") as f:
                memo = pickle.load(f)
            return memo if isinstance(memo, dict) else {}
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as err:
            log.warning("ignoring unreadable token cache %s (%s)", self.path, err)
            return {}

    def __call__(self, text: str) -> list[str]:
        key = _key(text)
        tokens = self._memo.get(key)
        if tokens is None:
            self.misses += 1
            tokens = cut(text, self.mode)
            self._memo[key] = tokens
            self._dirty = True
        else:
            self.hits += 1
        return list(tokens)

    def many(self, texts: Iterable[str]) -> list[list[str]]:
        return [self(t) for t in texts]

    def save(self) -> None:
        """Write the cache (atomically) if it learnt anything new."""
        if self.path is None or not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump(self._memo, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, self.path)
        self._dirty = False
