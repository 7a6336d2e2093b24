"""The CMRC2017 file format, read and written.

A `doc_query` file holds one question after another: the document's sentences as `N ||| words`
lines (N = 1, 2, ...; words separated by spaces), then the query as `<qid_K> ||| words`, then an
empty line. The cloze blank is the token `XXXXX`. An `answer` file holds `<qid_K> ||| answer` lines.
K restarts at 0 in every file, so a question is known by (file, K), and writing a set of questions
numbers them 0, 1, ... again. The Children's Fairy Tale files (cft.zip) use the same document lines
but end each document with `N ||| query ||| answer` and no empty line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kexue import files
from kexue.errors import DataFormatError

BLANK = "XXXXX"
SEP = " ||| "
QID = re.compile(r"<qid_(\d+)>")


@dataclass(frozen=True)
class Question:
    qid: str  # as in its file: <qid_K>
    doc: tuple[tuple[str, ...], ...]  # sentences of words
    query: tuple[str, ...]
    answer: str | None = None

    @property
    def words(self) -> list[str]:
        """The document as one sequence of words."""
        return [w for s in self.doc for w in s]


def _read(path: Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run the cloze-download stage first")
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise DataFormatError(f"{path}: not UTF-8 text ({err})") from None


def read_answers(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for n, line in enumerate(_read(path), 1):
        if not line.strip():
            continue
        key, sep, answer = line.partition(SEP)
        if not sep or not QID.fullmatch(key.strip()) or not answer.strip():
            raise DataFormatError(f"{path}:{n}: expected '<qid_K> ||| answer', got {line[:60]!r}")
        if key.strip() in out:
            raise DataFormatError(f"{path}:{n}: {key.strip()} answered twice")
        out[key.strip()] = answer.strip()
    return out


def read_questions(doc_query: Path, answers: Path | None = None) -> list[Question]:
    """Questions of a doc_query file, with their answers when an answer file is given."""
    key = read_answers(answers) if answers is not None else {}
    out: list[Question] = []
    doc: list[tuple[str, ...]] = []
    for n, line in enumerate(_read(doc_query), 1):
        if not line.strip():
            if doc:
                raise DataFormatError(f"{doc_query}:{n}: empty line inside a document (its query is missing)")
            continue
        head, sep, text = line.partition(SEP)
        if not sep:
            raise DataFormatError(f"{doc_query}:{n}: expected 'N ||| words' or '<qid_K> ||| query', got {line[:60]!r}")
        head = head.strip()
        if QID.fullmatch(head):
            if not doc:
                raise DataFormatError(f"{doc_query}:{n}: query {head} has no document before it")
            if answers is not None and head not in key:
                raise DataFormatError(f"{answers}: no answer for {head} (query at {doc_query}:{n})")
            out.append(Question(head, tuple(doc), tuple(text.split()), key.get(head)))
            doc = []
        elif head.isdigit():
            if int(head) != len(doc) + 1:
                raise DataFormatError(f"{doc_query}:{n}: sentence number {head}, expected {len(doc) + 1}")
            doc.append(tuple(text.split()))
        else:
            raise DataFormatError(f"{doc_query}:{n}: line key {head!r} is neither a sentence number nor <qid_K>")
    if doc:
        raise DataFormatError(f"{doc_query}: the last document has no query")
    if answers is not None and len(key) != len(out):
        raise DataFormatError(f"{answers}: {len(key)} answers for {len(out)} questions in {doc_query}")
    return out


def write_questions(questions: list[Question], doc_query: Path, answers: Path | None = None) -> None:
    """The questions in the official format, numbered <qid_0>, <qid_1>, ... in this file (and their
    answers, when an answer file is given: then every question needs one)."""
    if answers is not None and any(not q.answer for q in questions):
        missing = next(k for k, q in enumerate(questions) if not q.answer)
        raise ValueError(f"{answers}: question {missing} ({questions[missing].qid or 'unnumbered'}) has no answer to write")
    lines, keys = [], []
    for k, q in enumerate(questions):
        lines += [f"{i}{SEP}{' '.join(s)}" for i, s in enumerate(q.doc, 1)]
        lines += [f"<qid_{k}>{SEP}{' '.join(q.query)}", ""]
        keys.append(f"<qid_{k}>{SEP}{q.answer}")
    files.write_text(Path(doc_query), "\n".join(lines) + "\n" if lines else "")
    if answers is not None:
        files.write_text(Path(answers), "\n".join(keys) + "\n" if keys else "")


def read_cft_documents(text: str, name: str = "cft") -> list[list[list[str]]]:
    """The documents of a Children's Fairy Tale file as sentences of words; their queries and
    answers are left out (only the stories are used, as raw text)."""
    docs: list[list[list[str]]] = []
    doc: list[list[str]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(SEP)
        if not parts[0].strip().isdigit() or len(parts) not in (2, 3):
            raise DataFormatError(f"{name}:{n}: expected 'N ||| words' or 'N ||| query ||| answer', got {line[:60]!r}")
        if len(parts) == 3:  # the query line closes the document
            if doc:
                docs.append(doc)
            doc = []
        else:
            doc.append(parts[1].split())
    if doc:
        docs.append(doc)
    return docs
