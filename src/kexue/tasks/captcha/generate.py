"""Drawing captchas with the `captcha` package, reproducibly and on every core.

captcha 0.7 draws its random choices (font, size, rotation, warp, colours, noise) from the `secrets`
module, which cannot be seeded. `SeededSecrets` stands in for it with a seeded `random.Random`
offering the three functions the package calls (choice, randbelow, randbits); each chunk of images
gets its own seed, so the data set is byte-identical for a seed whatever the number of workers.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache

import numpy as np
from captcha import image as captcha_image

CHUNK = 500  # images per task handed to a worker


class SeededSecrets:
    """The part of the `secrets` API that captcha.image uses, from a seeded generator."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def choice(self, seq):
        return self._rng.choice(seq)

    def randbelow(self, n: int) -> int:
        return self._rng.randrange(n)

    def randbits(self, k: int) -> int:
        return self._rng.getrandbits(k)


@lru_cache(maxsize=4)
def _drawer(width: int, height: int) -> captcha_image.ImageCaptcha:
    return captcha_image.ImageCaptcha(width=width, height=height)


def draw(texts: list[str], width: int, height: int, seed: int) -> np.ndarray:
    """Grey uint8 images (len(texts), height, width) of `texts`, fixed by `seed`."""
    drawer = _drawer(width, height)
    captcha_image.secrets = SeededSecrets(seed)  # type: ignore[assignment]
    out = np.empty((len(texts), height, width), dtype=np.uint8)
    for i, text in enumerate(texts):
        out[i] = np.asarray(drawer.generate_image(text).convert("L"))
    return out


def _draw_chunk(args: tuple[list[str], int, int, int]) -> np.ndarray:
    return draw(*args)


def draw_many(texts: list[str], width: int, height: int, seed: int, workers: int = 0) -> Iterator[np.ndarray]:
    """Draw `texts` in chunks of CHUNK images on `workers` processes (0 = one per core); yields the
    chunks in order. Chunk k is seeded with (seed, k), so the result does not depend on `workers`."""
    jobs = [
        (texts[i : i + CHUNK], width, height, int(np.random.SeedSequence([seed, k]).generate_state(1)[0]))
        for k, i in enumerate(range(0, len(texts), CHUNK))
    ]
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(jobs) == 1:
        yield from map(_draw_chunk, jobs)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(_draw_chunk, jobs)


def undrawable(alphabet: str) -> list[str]:
    """Characters of `alphabet` the package's font cannot draw: blank ones, and ones whose glyph is
    the font's 'missing character' box (the same as a private-use code point's)."""
    from PIL import ImageFont

    font = ImageFont.truetype(captcha_image.DEFAULT_FONTS[0], 42)
    missing = font.getmask("\ue000")
    missing_key = (missing.size, bytes(missing))
    bad = []
    for c in alphabet:
        mask = font.getmask(c)
        if c.isspace() or mask.getbbox() is None or (mask.size, bytes(mask)) == missing_key:
            bad.append(c)
    return bad
