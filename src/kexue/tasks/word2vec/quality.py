"""The intrinsic quality measure of the word2vec task, built from the corpus itself (no outside
data set fits five old novels plus one month of 1998 news).

How `word_pairs.txt` was built (by hand, once, against the full corpus's vocabulary at min_count 5):
candidate pairs were written down from knowledge of the texts, then kept only where jieba (for
the novels) or the PKU segmentation (for the news) yields both words as single tokens, each seen
at least 10 times in the full corpus. Seven categories, 118 pairs, 2,348 questions:
- sanguo-courtesy-names (三国演义): a person's name and courtesy name or byname (刘备 玄德, 诸葛亮 孔明);
  most courtesy names (孙权 仲谋, 曹操 孟德 ...) fell out: jieba splits them or they are rare;
- shuihu-nicknames (水浒传): a hero's name and 绰号 (宋江 及时雨, 李逵 黑旋风);
- xiyou-other-names (西游记), honglou-full-and-given-names (红楼梦): two names of one character;
- news-country-capital, news-province-capital (People's Daily 1998-01): capitals as of January
  1998 (德国 波恩, 韩国 汉城); pairs whose capital was moving or disputed were left out;
- male-female: kinship and title pairs from all texts (父亲 母亲, 皇帝 皇后, 老爷 太太).
The first four are `alias` categories: both words name the same person.

Two measures, the same code for our vectors and gensim's:
- analogy accuracy: every ordered pair of distinct pairs (a, b), (c, d) of a category is a question
  "a : b :: c : ?", answered by 3CosAdd over the whole vocabulary (the three query words excluded),
  by gensim's `KeyedVectors.evaluate_word_analogies` (the standard word2vec procedure); accuracy
  over the questions whose four words are in the vocabulary. The questions are written in the
  standard questions-words format, so any other vectors can be scored on them;
- alias retrieval: for each alias pair, whether each word is among the other's `topn` nearest
  neighbours (cosine), over both directions.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations
from pathlib import Path

from kexue import files
from kexue.errors import DataFormatError

PAIRS = Path(__file__).with_name("word_pairs.txt")


@dataclass(frozen=True)
class Category:
    name: str
    alias: bool
    pairs: tuple[tuple[str, str], ...]


def read_pairs(path: Path = PAIRS) -> list[Category]:
    categories: list[Category] = []
    name, alias, pairs = None, False, []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(":"):
            if name:
                categories.append(Category(name, alias, tuple(pairs)))
            head = line[1:].split()
            name, alias, pairs = head[0], head[1:] == ["alias"], []
            continue
        words = line.split()
        if name is None or len(words) != 2:
            raise DataFormatError(f"{path}:{n}: expected two words under a `: category` line, got {line!r}")
        pairs.append((words[0], words[1]))
    if name:
        categories.append(Category(name, alias, tuple(pairs)))
    return categories


def write_questions(categories: list[Category], path: Path) -> int:
    """All analogy questions of `categories` in the questions-words format; returns their number."""
    lines = []
    for cat in categories:
        lines.append(f": {cat.name}")
        lines.extend(f"{a} {b} {c} {d}" for (a, b), (c, d) in permutations(cat.pairs, 2))
    files.write_text(path, "\n".join(lines) + "\n")
    return len(lines) - len(categories)


def analogy_accuracy(kv, questions: Path) -> dict[str, dict[str, float | int]]:
    """3CosAdd accuracy per category and in total ("all"), over the questions in the vocabulary."""
    _, sections = kv.evaluate_word_analogies(str(questions), restrict_vocab=len(kv.index_to_key), case_insensitive=False)
    out = {}
    for s in sections:
        n = len(s["correct"]) + len(s["incorrect"])
        out["all" if s["section"] == "Total accuracy" else s["section"]] = {
            "accuracy": round(len(s["correct"]) / n, 4) if n else None, "questions": n}
    return out


def alias_retrieval(kv, categories: list[Category], topn: int) -> dict[str, float | int]:
    """Share of alias pairs (both directions) where one word is among the other's `topn` neighbours."""
    hits = tried = 0
    for cat in categories:
        if not cat.alias:
            continue
        for a, b in cat.pairs:
            if a in kv.key_to_index and b in kv.key_to_index:
                for x, y in ((a, b), (b, a)):
                    tried += 1
                    hits += y in {w for w, _ in kv.most_similar(x, topn=topn)}
    return {"hit_rate": round(hits / tried, 4) if tried else None, "directions": tried}
