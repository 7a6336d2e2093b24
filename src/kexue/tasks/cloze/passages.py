"""Training passages: each training document read once per step with several blanks at a time,
drawn anew every epoch (`cloze.model.reader: passage`).

Why: a generated question costs a whole pass of the document through the reader's LSTMs, and the
document is most of the work (about 300 words against a query sentence of about 30). With `blanks`
blanks in `blanks` different sentences of one document, one pass trains `blanks` questions, and
since the blanks are drawn again every epoch (seeded by seed, epoch and document), the reader meets
new questions from the same text each time instead of the same 20 per document.

The rules are those of the question generator (generate.py), applied per epoch: a blank is a word
whose part of speech may be an answer and that occurs at least `min_other_occurrences` times
outside its sentence, drawn with probability proportional to that count to the power
`occurrence_power` (0: uniformly over the positions that may be blanked); the blanks of one pass are different words in different sentences, so no
blank hides another's answer. A fraction `unblanked_fraction` keep their sentence whole in the
document (the answer in place, as in user questions), and answer-like words are read as out of
vocabulary with probability `anonymize` (data.py, `word_ids`). Preprocess writes the documents
(`passages.npz`) with these settings baked in; the train stage only chooses how many blanks.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from kexue.tasks.cloze.cmrc import BLANK
from kexue.text.corpora import is_punctuation
from kexue.text.vocab import Vocab

PASSAGES = "passages"  # prepared/passages.npz


def encode_documents(docs: list[list[list[str]]], vocab: Vocab, answer_like, placeholders: list[int], *,
                     min_other_occurrences: int, unblanked_fraction: float, anonymize: float,
                     occurrence_power: float = 0.0) -> dict[str, np.ndarray]:
    """The training documents as arrays: every distinct word a type id (`types`: the word, `types_vocab`: its vocabulary
    id or -1, `types_answer`: may it be blanked, `types_candidate`: may it be an answer at all),
    `tokens` and `sentence` (index within its document) per word, `doc_off` per document, and the
    generation settings. Documents with no word that may be blanked are left out."""
    types: dict[str, int] = {}
    tokens, sentence, doc_off = [], [], [0]
    for doc in docs:
        ids = [types.setdefault(w, len(types)) for s in doc for w in s]
        sents = [k for k, s in enumerate(doc) for _ in s]
        tokens += ids
        sentence += sents
        doc_off.append(len(tokens))
    names = list(types)
    arrays = {
        "tokens": np.asarray(tokens, dtype=np.int32),
        "sentence": np.asarray(sentence, dtype=np.int32),
        "doc_off": np.asarray(doc_off, dtype=np.int64),
        "types": np.asarray(names, dtype=str),
        "types_vocab": np.asarray([vocab.stoi.get(w, -1) for w in names], dtype=np.int32),
        "types_answer": np.asarray([w != BLANK and not is_punctuation(w) and answer_like(w) for w in names], dtype=bool),
        "types_candidate": np.asarray([w != BLANK and not is_punctuation(w) for w in names], dtype=bool),
        "placeholders": np.asarray(placeholders, dtype=np.int64),
        "blank_id": np.asarray(vocab.stoi[BLANK]), "unk_id": np.asarray(vocab.unk_id),
        "min_other_occurrences": np.asarray(min_other_occurrences),
        "unblanked_fraction": np.asarray(unblanked_fraction), "anonymize": np.asarray(anonymize),
        "occurrence_power": np.asarray(occurrence_power),
    }
    keep = [i for i in range(len(docs)) if len(blankable(arrays, i)[0])]
    return select_documents(arrays, keep)


def sentences(a: dict[str, np.ndarray]) -> list[list[str]]:
    """The documents' sentences as words (for learning word vectors on the training text)."""
    out: list[list[str]] = []
    words = a["types"][a["tokens"]].tolist()
    sent = a["sentence"]
    for i in range(len(a["doc_off"]) - 1):
        lo, hi = int(a["doc_off"][i]), int(a["doc_off"][i + 1])
        cuts = np.flatnonzero(np.diff(sent[lo:hi])) + 1
        out += [words[lo + s : lo + e] for s, e in zip([0, *cuts.tolist()], [*cuts.tolist(), hi - lo])]
    return out


def select_documents(a: dict[str, np.ndarray], keep: list[int]) -> dict[str, np.ndarray]:
    """The same arrays holding only the documents `keep`."""
    off = a["doc_off"]
    parts = [np.arange(off[i], off[i + 1]) for i in keep]
    at = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    lengths = [len(p) for p in parts]
    return {**a, "tokens": a["tokens"][at], "sentence": a["sentence"][at],
            "doc_off": np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)}


def blankable(a: dict[str, np.ndarray], i: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of document i that may be blanked (an answer-like word that occurs at least
    `min_other_occurrences` times outside its own sentence), and how often each one's word occurs
    outside its sentence."""
    tok = a["tokens"][a["doc_off"][i] : a["doc_off"][i + 1]]
    sent = a["sentence"][a["doc_off"][i] : a["doc_off"][i + 1]]
    _, local, in_doc = np.unique(tok, return_inverse=True, return_counts=True)
    key = sent.astype(np.int64) * (int(local.max(initial=0)) + 1) + local
    _, key_inv, in_sentence = np.unique(key, return_inverse=True, return_counts=True)
    other = in_doc[local] - in_sentence[key_inv]
    ok = np.flatnonzero(a["types_answer"][tok] & (other >= int(a["min_other_occurrences"])))
    return ok, other[ok]


def draw_blanks(sent: np.ndarray, tok: np.ndarray, ok: np.ndarray, weight: np.ndarray, n: int,
                rng: np.random.Generator) -> np.ndarray:
    """Up to `n` of the positions `ok`, drawn without replacement with probability proportional to
    `weight` (Gumbel top-k), skipping a position whose sentence or word an earlier pick holds: the
    blanks are in different sentences and of different words, so every blank's other occurrences
    stay readable."""
    keys = np.log(np.maximum(weight, 1e-12)) + rng.gumbel(size=len(ok))
    picked: list[int] = []
    sentences: set[int] = set()
    words: set[int] = set()
    for j in ok[np.argsort(-keys, kind="stable")].tolist():
        if int(sent[j]) in sentences or int(tok[j]) in words:
            continue
        picked.append(j)
        sentences.add(int(sent[j]))
        words.add(int(tok[j]))
        if len(picked) == n:
            break
    return np.asarray(sorted(picked), dtype=np.int64)


def first_seen_index(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """For the positions where `mask` holds, the index of each position's value among the distinct
    values in first-seen order; other positions get -1."""
    seen: dict[int, int] = {}
    out = np.full(len(values), -1, dtype=np.int64)
    for t in np.flatnonzero(mask).tolist():
        out[t] = seen.setdefault(int(values[t]), len(seen))
    return out


def make_passage(a: dict[str, np.ndarray], i: int, blanks: int, rng: np.random.Generator) -> dict[str, object]:
    """Document i with up to `blanks` blanks: model ids of the document, its candidates, and per
    blank its query (the sentence with that blank), blank position, place in the document (-1:
    the sentence kept whole), which document words occur in the query, and the answer's candidate."""
    lo, hi = a["doc_off"][i], a["doc_off"][i + 1]
    tok, sent = a["tokens"][lo:hi], a["sentence"][lo:hi]
    ok, other = blankable(a, i)
    at = draw_blanks(sent, tok, ok, other.astype(np.float64) ** float(a["occurrence_power"]), blanks, rng)
    whole = rng.random(len(at)) < float(a["unblanked_fraction"])
    gone = np.zeros(len(tok), dtype=bool)
    gone[at[~whole]] = True  # positions that read XXXXX in the document
    # out of vocabulary, or hidden: answer-like types, each with probability `anonymize`
    doc_types = np.unique(tok)
    answer_types = doc_types[a["types_answer"][doc_types]]
    hidden = answer_types[rng.random(len(answer_types)) < float(a["anonymize"])]
    oov = (a["types_vocab"][tok] < 0) | np.isin(tok, hidden)
    ids = a["types_vocab"][tok].astype(np.int64)
    readable = oov & ~gone  # (blanked positions read XXXXX wherever they appear: their ids do not matter)
    slot = first_seen_index(tok, readable)
    ph, unk = a["placeholders"], int(a["unk_id"])
    ids[readable] = np.where(slot[readable] < len(ph), ph[np.minimum(slot[readable], len(ph) - 1)], unk) if len(ph) else unk
    doc = ids.copy()
    doc[gone] = int(a["blank_id"])
    cand = first_seen_index(tok, a["types_candidate"][tok] & ~gone)
    queries, q_blank, doc_blank, inq, answer = [], [], [], [], []
    for j, w in zip(at.tolist(), whole.tolist()):
        in_sentence = np.flatnonzero(sent == sent[j])
        query = ids[in_sentence].copy()
        query[j - in_sentence[0]] = int(a["blank_id"])
        queries.append(query)
        q_blank.append(j - int(in_sentence[0]))
        doc_blank.append(-1 if w else j)
        others = tok[in_sentence[in_sentence != j]]
        inq.append(np.isin(tok, others) & ~gone)
        answer.append(int(cand[np.flatnonzero((tok == tok[j]) & (cand >= 0))[0]]))
    return {"doc": doc, "cand": cand, "queries": queries, "blank": q_blank, "doc_blank": doc_blank,
            "inq": inq, "answer": answer}


def collate_passages(passages: list[dict[str, object]]) -> dict[str, torch.Tensor]:
    """N passages -> a batch: doc (N, T), cand (N, T), and per blank (N, K, ...) query, q_len, blank,
    doc_blank, inq, answer, and qmask (which of the K slots hold a blank)."""
    n = len(passages)
    t = max(len(p["doc"]) for p in passages)
    k = max(1, max(len(p["queries"]) for p in passages))
    tq = max([len(q) for p in passages for q in p["queries"]] or [1])
    b = {
        "doc": torch.zeros(n, t, dtype=torch.long), "doc_len": torch.ones(n, dtype=torch.long),
        "cand": torch.full((n, t), -1, dtype=torch.long),
        "query": torch.zeros(n, k, tq, dtype=torch.long), "q_len": torch.ones(n, k, dtype=torch.long),
        "blank": torch.zeros(n, k, dtype=torch.long), "doc_blank": torch.full((n, k), -1, dtype=torch.long),
        "inq": torch.zeros(n, k, t), "answer": torch.full((n, k), -1, dtype=torch.long),
        "qmask": torch.zeros(n, k, dtype=torch.bool),
    }
    for r, p in enumerate(passages):
        length = len(p["doc"])
        b["doc"][r, :length] = torch.from_numpy(p["doc"])
        b["doc_len"][r] = length
        b["cand"][r, :length] = torch.from_numpy(p["cand"])
        for s, q in enumerate(p["queries"]):
            b["query"][r, s, : len(q)] = torch.from_numpy(q)
            b["q_len"][r, s] = len(q)
            b["inq"][r, s, :length] = torch.from_numpy(p["inq"][s].astype(np.float32))
        m = len(p["queries"])
        b["blank"][r, :m] = torch.tensor(p["blank"], dtype=torch.long)
        b["doc_blank"][r, :m] = torch.tensor(p["doc_blank"], dtype=torch.long)
        b["answer"][r, :m] = torch.tensor(p["answer"], dtype=torch.long)
        b["qmask"][r, :m] = True
    return b


def as_passages(b: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A batch of single questions (data.collate) as passages of one blank each."""
    if b["query"].dim() == 3:
        return b
    one = {key: b[key].unsqueeze(1) for key in ("query", "q_len", "blank", "doc_blank", "inq", "answer")}
    return {**b, **one, "qmask": torch.ones_like(b["answer"], dtype=torch.bool).unsqueeze(1)}


class PassageBatches(Sampler[tuple[int, list[int]]]):
    """(epoch, document indices) per step: documents of similar length together, a new seeded
    order every epoch. Lightning calls `set_epoch` on a DataLoader's sampler before each epoch,
    so a resumed run draws the same blanks as an uninterrupted one."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int, pool: int = 50) -> None:
        self.lengths, self.batch_size, self.seed, self.pool = np.asarray(lengths), batch_size, seed, pool
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[int, list[int]]]:
        rng = np.random.default_rng([self.seed, self.epoch, 7])
        order = rng.permutation(len(self.lengths))
        batches: list[list[int]] = []
        size = self.batch_size * self.pool
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")].tolist()
            batches += [chunk[j : j + self.batch_size] for j in range(0, len(chunk), self.batch_size)]
        for k in rng.permutation(len(batches)).tolist():
            yield self.epoch, batches[k]

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)


class Passages(Dataset):
    """Item (epoch, document indices) -> the collated batch of those documents, blanks drawn by
    (seed, epoch, document)."""

    def __init__(self, arrays: dict[str, np.ndarray], blanks: int, seed: int, limit: int = 0) -> None:
        self.a, self.blanks, self.seed = arrays, blanks, seed
        n = len(arrays["doc_off"]) - 1
        self.n = min(limit, n) if limit else n

    def __len__(self) -> int:
        return self.n

    def lengths(self) -> list[int]:
        return np.diff(self.a["doc_off"])[: self.n].tolist()

    def __getitem__(self, key: tuple[int, list[int]]) -> dict[str, torch.Tensor]:
        epoch, docs = key
        return collate_passages([make_passage(self.a, i, self.blanks, np.random.default_rng([self.seed, epoch, i]))
                                 for i in docs])
