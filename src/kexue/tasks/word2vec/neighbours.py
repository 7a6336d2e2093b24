"""The nearest neighbours of a word in the exported vectors (cosine similarity):

    python -m kexue.tasks.word2vec.neighbours 孔明
    python -m kexue.tasks.word2vec.neighbours --vectors data/word2vec/gensim/vectors.txt -n 20 宝玉 黛玉

Reads any word2vec text file (default: ours, `data/word2vec/vectors.txt`). A word without a vector
is refused with a message naming it (exit code 1, nothing printed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kexue.errors import EXPECTED_ERRORS
from kexue.text.vectors import load_text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kexue.tasks.word2vec.neighbours", description=__doc__.splitlines()[0])
    parser.add_argument("words", nargs="+", help="one or more words")
    parser.add_argument("--vectors", type=Path, default=Path("data/word2vec/vectors.txt"))
    parser.add_argument("-n", "--topn", type=int, default=10)
    args = parser.parse_args(argv)
    try:
        vectors = load_text(args.vectors)
        found = {word: vectors.neighbours(word, args.topn) for word in args.words}
    except EXPECTED_ERRORS as err:  # a missing file or word: the message says which, a traceback adds nothing
        print(f"error: {err}", file=sys.stderr)
        return 1
    for word, neighbours in found.items():
        print(f"{word}:")
        for other, sim in neighbours:
            print(f"  {sim:.3f}  {other}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
