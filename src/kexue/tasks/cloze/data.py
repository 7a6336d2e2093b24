"""Stages download and preprocess of the cloze task, and the questions as tensors.

download: the CMRC2017 validation files (cloze and user questions with their answers), the
Children's Fairy Tale stories (cft.zip), People's Daily 1998-01 and the four classic novels, each
checked against its sha256.

preprocess: the texts -> documents (fairy tales as they are; news and novels cut into documents of
at most `doc_max_tokens` words) -> documents that share a sentence with an evaluation document are
dropped -> generated questions (generate.py) -> a seeded split by document into train and val ->
a vocabulary from the training documents -> `train.npz`, `val.npz`, `vocab.json`, `stats.json`, the
training documents themselves for the passage reader and for learning word vectors (`passages.npz`,
passages.py), and
a sample of the generated questions in the official format (`sample.doc_query`, `sample.answer`)
for people to read.
"""

from __future__ import annotations

import logging
import zipfile
from collections import Counter
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from kexue import files
from kexue.errors import DataFormatError
from kexue.fetch import Remote, fetch_all
from kexue.loading import load_npz
from kexue.params import RunParams
from kexue.tasks.cloze.cmrc import BLANK, Question, read_cft_documents, read_questions, write_questions
from kexue.tasks.cloze.generate import PartOfSpeech, chunk_documents, make_questions
from kexue.tasks.cloze.params import ClozeParams
from kexue.tasks.cloze.passages import PASSAGES, PassageBatches, Passages, encode_documents
from kexue.text import corpora
from kexue.text.batching import BucketBatchSampler, pad_batch
from kexue.text.corpora import is_punctuation
from kexue.text.tokenize import Tokenizer
from kexue.text.vocab import Vocab

log = logging.getLogger(__name__)

CMRC = "https://raw.githubusercontent.com/ymcui/cmrc2017/ce611f621771b52af762f7a9bc4f0f87ce91f978"
CFT = "https://raw.githubusercontent.com/ymcui/Chinese-Cloze-RC/6528947e62d6dce6f36a0552235ed4f9ea7d04da"
EVAL_SETS = ("cloze", "user")  # cloze-valid and user-valid
REMOTES = [  # sha256 from shared/datasets/SOURCES.md, section 2
    Remote("cmrc2017/validation", "cloze.valid.doc_query", f"{CMRC}/validation/cloze.valid.doc_query",
           "884f02e323fc2b73a8ae7fe0a829e649afff31aca762d23fea86be5036785733"),
    Remote("cmrc2017/validation", "cloze.valid.answer", f"{CMRC}/validation/cloze.valid.answer",
           "66aca25dfbd8047f629ab505d301645a62551ced70ac664b93e8714bbb229ddd"),
    Remote("cmrc2017/validation", "user.valid.doc_query", f"{CMRC}/validation/user.valid.doc_query",
           "a0e7ebe3c65267a3df85e5815210551d0e819808505f6a3e7a000b155fde8e77"),
    Remote("cmrc2017/validation", "user.valid.answer", f"{CMRC}/validation/user.valid.answer",
           "51b1f5bdfbc5e062244e0cfcd341e7a9bde3d20aa2f2ccf7ee23744119c37500"),
    Remote("cmrc2017/children_fairy_tale", "cft.zip", f"{CFT}/children_fairy_tale/cft.zip",
           "03e630a48fd1ed5d90fb222c0a9e7fb362c9a8f73a63ba5052a5cc2f5757a48d"),
    *corpora.REMOTES,  # the four novels and People's Daily
]
CFT_FILES = ("cft/cft.test.human", "cft/cft.test.auto")
SPLITS = ("train", "val")
VOCAB, STATS = "vocab.json", "stats.json"


def download(raw: Path) -> None:
    """Stage 1: fetch the CMRC2017 validation files, the fairy tales, the news and the novels into `raw`."""
    fetch_all(REMOTES, raw)


def read_eval_set(raw: Path, name: str) -> list[Question]:
    """cloze-valid or user-valid, with answers."""
    return read_questions(Path(raw) / f"{name}.valid.doc_query", Path(raw) / f"{name}.valid.answer")


def source_documents(raw: Path, source: str, p: ClozeParams) -> list[list[list[str]]]:
    """The documents (sentences of words) of one source text."""
    g, raw = p.data.generate, Path(raw)
    if source == "fairy_tales":
        path = raw / "cft.zip"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing; run the cloze-download stage first")
        try:
            with zipfile.ZipFile(path) as z:
                texts = [(name, z.read(name).decode("utf-8")) for name in CFT_FILES]
        except (zipfile.BadZipFile, KeyError, UnicodeDecodeError) as err:
            raise DataFormatError(f"{path}: expected a zip holding UTF-8 {' and '.join(CFT_FILES)} ({err})") from None
        docs, seen = [], set()
        for name, text in texts:
            for doc in read_cft_documents(text[: g.max_chars] if g.max_chars else text, f"{path}:{name}"):
                key = tuple(map(tuple, doc))  # both files repeat stories: keep each once
                if key not in seen and len(doc) >= g.doc_min_sentences:
                    seen.add(key)
                    docs.append(doc)
        return docs
    if source == "news":
        name = corpora.NEWS
        sentences = corpora.news_sentences(corpora.read_text(raw / name, g.max_chars, stage="cloze-download"), raw / name)
        return list(chunk_documents(sentences, g.doc_max_tokens, g.doc_min_sentences))
    if source == "novels":
        tokenizer = Tokenizer("word")
        docs = []
        for name in corpora.NOVELS:
            text = corpora.read_text(raw / name, g.max_chars, stage="cloze-download")
            docs += chunk_documents(corpora.novel_sentences(text, tokenizer), g.doc_max_tokens, g.doc_min_sentences)
        tokenizer.save()
        return docs
    raise ValueError(f"unknown source {source!r}")


def flat(sentence) -> str:
    return "".join(sentence)


def preprocess(p: ClozeParams, run: RunParams, raw: Path, prepared: Path) -> None:
    """Stage 2: raw texts -> generated questions split by document (train.npz, val.npz), vocab.json, stats.json."""
    g, raw, prepared = p.data.generate, Path(raw), Path(prepared)
    evaluation = {name: read_eval_set(raw, name) for name in EVAL_SETS}
    eval_sentences = {flat(s) for qs in evaluation.values() for q in qs for s in q.doc if len(flat(s)) >= g.overlap_min_chars}
    pos = PartOfSpeech()
    stats: dict[str, object] = {"sources": {}}
    questions: dict[str, list[Question]] = {s: [] for s in SPLITS}
    train_docs: list[list[list[str]]] = []
    rng = np.random.default_rng(run.seed)
    for k, source in enumerate(g.sources):
        docs = source_documents(raw, source, p)
        kept = [d for d in docs if not any(flat(s) in eval_sentences for s in d)]
        is_val = rng.random(len(kept)) < g.val_fraction
        made = {s: 0 for s in SPLITS}
        for i, (doc, val) in enumerate(zip(kept, is_val)):
            split = "val" if val else "train"
            qs = make_questions(doc, g, pos, np.random.default_rng([run.seed, k, i]), g.questions_per_sentence.get(source, 1))
            questions[split] += qs
            made[split] += len(qs)
            if not val:
                train_docs.append(doc)
        stats["sources"][source] = {
            "documents": len(docs),
            "dropped_sharing_an_evaluation_sentence": len(docs) - len(kept),
            "words": sum(len(s) for d in kept for s in d),
            "train_questions": made["train"],
            "val_questions": made["val"],
        }
        log.info("%s: %d documents (%d dropped: they share a sentence with the evaluation data), %s questions",
                 source, len(docs), len(docs) - len(kept), made)
    # The check the dropping guarantees, made on what is written: no evaluation sentence in the training text.
    leaked = sum(flat(s) in eval_sentences for d in train_docs for s in d)
    if leaked:
        raise AssertionError(f"{leaked} evaluation sentences left in the training documents")
    if not questions["train"] or not questions["val"]:
        raise DataFormatError(f"{raw}: the sources {g.sources} gave {len(questions['train'])} training and "
                              f"{len(questions['val'])} validation questions; need some of each (more text, or a larger val_fraction)")

    # Counted once per document (its distinct words in first-seen order), so min_docs is a document frequency.
    vocab = Vocab.build((list(dict.fromkeys(w for s in d for w in s)) for d in train_docs), min_count=p.data.min_docs,
                        max_size=p.data.max_vocab, specials=[BLANK, *placeholder_tokens(p.data.placeholders)])
    placeholder_answers = {}
    allowed = set(g.answer_pos)
    for k, split in enumerate(SPLITS):
        hidden = anonymized_words(questions[split], p.data.anonymize, allowed, pos, np.random.default_rng([run.seed, 100 + k]))
        placeholder_answers[split] = sum(q.answer not in vocab.stoi or q.answer in h for q, h in zip(questions[split], hidden))
        files.save_npz(prepared / f"{split}.npz", **encode(questions[split], vocab, p.data.question_words, hidden))
    vocab.save(prepared / VOCAB)
    passages = encode_documents(train_docs, vocab, lambda w: pos(w) in allowed, placeholder_ids(vocab),
                                min_other_occurrences=g.min_other_occurrences,
                                unblanked_fraction=g.unblanked_fraction, anonymize=p.data.anonymize,
                                occurrence_power=g.occurrence_power)
    files.save_npz(prepared / f"{PASSAGES}.npz", **passages)
    write_questions(questions["train"][:50], prepared / "sample.doc_query", prepared / "sample.answer")
    stats.update(
        train_questions=len(questions["train"]),
        val_questions=len(questions["val"]),
        eval_sentences_checked=len(eval_sentences),
        eval_sentences_in_training_text=leaked,
        vocab_size=len(vocab),
        train_answers_read_as_placeholders=placeholder_answers["train"],
        train_passages=len(passages["doc_off"]) - 1,
        # to set beside the evaluation sets' by_answer_occurrences (metrics/cloze.json)
        train_answer_occurrences=answer_occurrence_shares(questions["train"]),
    )
    files.write_json(prepared / STATS, stats)
    log.info("cloze data: %d training and %d validation questions, vocabulary %d",
             len(questions["train"]), len(questions["val"]), len(vocab))


def answer_occurrence_shares(questions: list[Question]) -> dict[str, float]:
    """The share of the questions whose answer occurs 1, 2, 3, 4, 5+ times in the document (the
    blank not counted); rounded to 4 places."""
    counts = Counter(frequency_bucket(q) for q in questions)
    return {b: round(counts[b] / len(questions), 4) if questions else 0.0 for b in FREQUENCY_BUCKETS}


def blank_position(query: list[str], question_words: list[str]) -> int:
    """Where the blank is: `XXXXX`, else the first question word (user questions: 什么, 谁, ...),
    which becomes the blank; a query with neither gets a blank appended. Edits `query` in place."""
    if BLANK in query:
        return query.index(BLANK)
    for w in question_words:
        if w in query:
            j = query.index(w)
            query[j] = BLANK
            return j
    query.append(BLANK)
    return len(query) - 1


def is_candidate(word: str) -> bool:
    """Whether a document word may be an answer: not punctuation, not the blank."""
    return word != BLANK and not is_punctuation(word)


FREQUENCY_BUCKETS = ("1", "2", "3", "4", "5+")  # occurrences of the answer in the document (the blank not counted)


def frequency_bucket(q: Question) -> str:
    """How often the answer occurs in the document: "1" ... "5+", or "0" (counted apart, as
    answer_not_in_document, and in no bucket)."""
    n = sum(w == q.answer for w in q.words)
    return FREQUENCY_BUCKETS[min(n, 5) - 1] if n else "0"


def candidate_words(q: Question) -> list[str]:
    """The document's distinct candidate words in first-seen order: candidate index -> word."""
    return list(dict.fromkeys(w for w in q.words if is_candidate(w)))


def anonymized_words(questions: list[Question], fraction: float, answer_pos: set[str], pos: PartOfSpeech,
                     rng: np.random.Generator) -> list[frozenset[str]]:
    """Per question, the words read as out of vocabulary although the vocabulary has them: each
    distinct candidate word whose part of speech may be an answer, with probability `fraction`."""
    out = []
    for q in questions:
        eligible = [w for w in candidate_words(q) if pos(w) in answer_pos] if fraction else []
        draws = rng.random(len(eligible))
        out.append(frozenset(w for w, r in zip(eligible, draws) if r < fraction))
    return out


def placeholder_tokens(n: int) -> list[str]:
    """<unk0> ... <unk{n-1}>: the vocabulary's stand-ins for a question's out-of-vocabulary words."""
    return [f"<unk{i}>" for i in range(n)]


def placeholder_ids(vocab: Vocab) -> list[int]:
    """The ids of the vocabulary's placeholders <unk0>, <unk1>, ... in order (none: an empty list)."""
    ids: list[int] = []
    while (token := f"<unk{len(ids)}>") in vocab.stoi:
        ids.append(vocab.stoi[token])
    return ids


def word_ids(words: list[str], query: list[str], vocab: Vocab, placeholders: list[int],
             hidden: frozenset[str] = frozenset()) -> tuple[list[int], list[int]]:
    """Document and query word ids. An out-of-vocabulary word takes the next free placeholder at its
    first occurrence (document first, then query) and keeps it wherever it recurs; once they run out,
    the shared <unk>. Words in `hidden` are read as out of vocabulary too.

    Why: with one shared <unk>, every unknown word of a document looks alike. In the official questions
    the answer is often a story's own name (457 of the 2,000 cloze-valid answers were out of
    vocabulary, and a reader that never met <unk> as an answer got 1 of them right). The vocabulary
    keeps words by document frequency (`min_docs`), so a name particular to one training document is
    unknown there as well, answers included. (In quick mode, what helped was hiding answer-like words
    while training, `anonymize`; `placeholders: 0` scored higher there: see the README.)"""
    table: dict[str, int] = {}
    free = iter(placeholders)

    def ids(tokens: list[str]) -> list[int]:
        out = []
        for w in tokens:
            i = None if w in hidden else vocab.stoi.get(w)
            if i is None:
                if w not in table:
                    table[w] = next(free, vocab.unk_id)
                i = table[w]
            out.append(i)
        return out

    return ids(words), ids(query)


def encode(questions: list[Question], vocab: Vocab, question_words: list[str],
           hidden: list[frozenset[str]] | None = None) -> dict[str, np.ndarray]:
    """Questions as flat arrays: document and query word ids with their offsets, the blank's position
    in the query, per document position its candidate (an index into the document's distinct words,
    -1 for punctuation and the blank, which are never answers) and whether it occurs in the query,
    where the document has a blank (-1: none, as in user questions),
    and the answer's candidate index (-1: the answer is not a word of the document).
    Out-of-vocabulary words, and those of `hidden[i]` in question i, get the vocabulary's placeholders (`word_ids`)."""
    placeholders = placeholder_ids(vocab)
    doc, cand, inq, query, blank, doc_blank, answer, n_cand = [], [], [], [], [], [], [], []
    doc_off, q_off = [0], [0]
    for i, q in enumerate(questions):
        words = q.words
        qw = list(q.query)
        blank.append(blank_position(qw, question_words))
        in_query = set(qw) - {BLANK}
        doc_blank.append(words.index(BLANK) if BLANK in words else -1)
        groups = {w: k for k, w in enumerate(candidate_words(q))}
        cand += [groups.get(w, -1) for w in words]
        inq += [w in in_query for w in words]
        doc_ids, query_ids = word_ids(words, qw, vocab, placeholders, hidden[i] if hidden else frozenset())
        doc += doc_ids
        query += query_ids
        doc_off.append(len(doc))
        q_off.append(len(query))
        answer.append(groups.get(q.answer, -1) if q.answer is not None else -1)
        n_cand.append(len(groups))
    return {
        "doc": np.asarray(doc, dtype=np.int32), "doc_off": np.asarray(doc_off, dtype=np.int64),
        "cand": np.asarray(cand, dtype=np.int32), "inq": np.asarray(inq, dtype=np.uint8),
        "query": np.asarray(query, dtype=np.int32), "q_off": np.asarray(q_off, dtype=np.int64),
        "blank": np.asarray(blank, dtype=np.int64), "doc_blank": np.asarray(doc_blank, dtype=np.int64),
        "answer": np.asarray(answer, dtype=np.int64),
        "n_cand": np.asarray(n_cand, dtype=np.int64),
    }



def load_split(prepared: Path, split: str) -> dict[str, np.ndarray]:
    """The arrays of `prepared/<split>.npz` (split: train, val, or passages)."""
    return load_npz(Path(prepared) / f"{split}.npz", stage="cloze-preprocess")


class Questions(Dataset):
    """Encoded questions (the arrays of `encode`), one question per item."""

    def __init__(self, arrays: dict[str, np.ndarray], limit: int = 0) -> None:
        self.a = arrays
        self.n = len(arrays["answer"]) if not limit else min(limit, len(arrays["answer"]))

    def __len__(self) -> int:
        return self.n

    def doc_lengths(self) -> list[int]:
        return np.diff(self.a["doc_off"])[: self.n].tolist()

    def __getitem__(self, i: int) -> tuple:
        a = self.a
        d0, d1, q0, q1 = a["doc_off"][i], a["doc_off"][i + 1], a["q_off"][i], a["q_off"][i + 1]
        return (a["doc"][d0:d1], a["cand"][d0:d1], a["inq"][d0:d1], a["query"][q0:q1],
                int(a["blank"][i]), int(a["doc_blank"][i]), int(a["answer"][i]))


def collate(items: list[tuple]) -> dict[str, torch.Tensor]:
    doc, doc_len = pad_batch([d.tolist() for d, *_ in items])
    cand, _ = pad_batch([c.tolist() for _, c, *_ in items], pad_id=-1)
    inq, _ = pad_batch([m.tolist() for _, _, m, *_ in items])
    query, q_len = pad_batch([q.tolist() for _, _, _, q, *_ in items])
    return {
        "doc": doc, "doc_len": doc_len, "cand": cand, "inq": inq.float(), "query": query, "q_len": q_len,
        "blank": torch.tensor([b for *_, b, _, _ in items], dtype=torch.long),
        "doc_blank": torch.tensor([b for *_, b, _ in items], dtype=torch.long),
        "answer": torch.tensor([y for *_, y in items], dtype=torch.long),
    }


def loader(data: Questions, batch_size: int, seed: int = 0, shuffle: bool = False) -> DataLoader:
    sampler = BucketBatchSampler(data.doc_lengths(), batch_size, seed=seed, shuffle=shuffle)
    return DataLoader(data, batch_sampler=sampler, collate_fn=collate)


class QuestionsDataModule(L.LightningDataModule):
    """Training on the generated questions (train.npz), or with `blanks` > 0 on the training documents
    with that many blanks drawn per document and epoch (passages.npz, batch_size documents a step);
    validation on the generated validation questions either way."""

    def __init__(self, prepared: Path, batch_size: int, eval_batch_size: int = 64, seed: int = 0, train_limit: int = 0,
                 blanks: int = 0) -> None:
        super().__init__()
        self.prepared, self.batch_size, self.eval_batch_size = Path(prepared), batch_size, eval_batch_size
        self.seed, self.train_limit, self.blanks = seed, train_limit, blanks
        self.data: dict[str, Questions | Passages] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.blanks:
            self.data["train"] = Passages(load_split(self.prepared, PASSAGES), self.blanks, self.seed,
                                          self.train_limit)
        else:
            self.data["train"] = Questions(load_split(self.prepared, "train"), self.train_limit)
        self.data["val"] = Questions(load_split(self.prepared, "val"))

    def train_dataloader(self) -> DataLoader:
        if self.blanks:  # the sampler yields whole batches: (epoch, documents) -> one collated batch
            train = self.data["train"]
            return DataLoader(train, sampler=PassageBatches(train.lengths(), self.batch_size, self.seed), batch_size=None)
        return loader(self.data["train"], self.batch_size, self.seed, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return loader(self.data["val"], self.eval_batch_size)
