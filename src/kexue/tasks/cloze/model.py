"""The LightningModule: an attention-sum reader (Kadlec et al. 2016, "Text Understanding with the
Attention Sum Reader Network"), the kind of model the blog post used for CMRC2017: pick a word of
the document to fill the blank.

Document and query each go through a bidirectional LSTM over shared word vectors (the document's
vectors get one more input: does this word occur in the query). The query is read at its blank:
the two LSTM states there say what the blank needs; where the document holds the blank too
(cloze questions: the blanked sentence stays in the document), the document LSTM's states there
join them, read in the context of the whole story (zeros where it does not, as in user questions). Every document position gets a score (its
LSTM states against the blank's, through a bilinear form); a softmax over the positions that may
be answers (not padding, punctuation or the blank) and the probabilities of the positions of the
same word summed give P(word). Training maximises P(right word).

`model.hops: K > 1` puts K - 1 gated-attention layers (Dhingra et al. 2017, "Gated-Attention
Readers for Text Comprehension") in front: each runs its own document and query BiLSTMs, lets
every document position attend over the query's states and multiplies its own state by what it
attended to; the next layer reads those products. The last layer is the reader above.

`model.reader: passage` is the one-hop reader for a document read once with several blanks
(passages.py): the document LSTM cannot take a per-question input, so whether a document word
occurs in the query enters the scores instead (a learned window over those flags, so that "near
words of the query" can count), and each blank's query and state in the document are matched
against the one document pass.
"""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from kexue.nn.birnn import BiLSTM
from kexue.tasks.cloze.params import ModelParams, TrainParams
from kexue.tasks.cloze.passages import as_passages

NEG = -1e4  # a score no real position reaches: masked positions get ~0 probability, even in bf16


class GatedAttention(nn.Module):
    """One gated-attention layer: (N, T, in) document, (N, Tq, E) query -> (N, T, 2H), each document
    state times the query states it attends to (softmax over the real query positions)."""

    def __init__(self, doc_in: int, query_in: int, hidden: int) -> None:
        super().__init__()
        self.doc_rnn = BiLSTM(doc_in, hidden)
        self.query_rnn = BiLSTM(query_in, hidden)

    def forward(self, doc, doc_len, query, q_len) -> torch.Tensor:
        d = self.doc_rnn(doc, doc_len)  # (N, T, 2H)
        q = self.query_rnn(query, q_len)  # (N, Tq, 2H)
        pad = torch.arange(q.shape[1], device=q.device).unsqueeze(0) >= q_len.to(q.device).unsqueeze(1)
        att = torch.einsum("nth,nsh->nts", d, q).masked_fill(pad.unsqueeze(1), NEG).softmax(-1)
        return d * torch.einsum("nts,nsh->nth", att, q)


class AttentionSumReader(nn.Module):
    def __init__(self, vocab_size: int, mp: ModelParams) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, mp.embed_dim, padding_idx=0)
        self.dropout = nn.Dropout(mp.dropout)
        last_in = mp.embed_dim + 1 if mp.hops == 1 else 2 * mp.hidden + 1
        self.doc_rnn = BiLSTM(last_in, mp.hidden)
        self.query_rnn = BiLSTM(mp.embed_dim, mp.hidden)
        self.bilinear = nn.Linear(4 * mp.hidden, 2 * mp.hidden, bias=False)
        # made after the reader's own layers, so that hops: 1 draws the same initial weights as before
        self.gates = nn.ModuleList(
            GatedAttention(mp.embed_dim + 1 if k == 0 else 2 * mp.hidden, mp.embed_dim, mp.hidden)
            for k in range(mp.hops - 1)
        )

    def forward(self, b: dict[str, torch.Tensor]) -> torch.Tensor:
        """(N, T) scores of the document positions; positions that cannot be answers get NEG."""
        doc = self.dropout(self.embed(b["doc"]))
        inq = b["inq"].unsqueeze(-1).to(doc.dtype)
        doc = torch.cat([doc, inq], dim=-1)
        query = self.dropout(self.embed(b["query"])) if self.gates else None
        for gate in self.gates:
            doc = self.dropout(gate(doc, b["doc_len"], query, b["q_len"]))
        if self.gates:
            doc = torch.cat([doc, inq], dim=-1)
        d = self.doc_rnn(doc, b["doc_len"])  # (N, T, 2H)
        if query is None:  # hops: 1 draws its dropout masks in the order it always did
            query = self.dropout(self.embed(b["query"]))
        q = self.query_rnn(query, b["q_len"])  # (N, Tq, 2H)
        rows = torch.arange(len(q), device=q.device)
        at_blank = q[rows, b["blank"]]  # (N, 2H)
        in_doc = d[rows, b["doc_blank"].clamp(min=0)] * (b["doc_blank"] >= 0).unsqueeze(1)  # (N, 2H)
        need = self.bilinear(torch.cat([at_blank, in_doc], dim=1))
        scores = torch.einsum("nth,nh->nt", self.dropout(d), need)
        return scores.masked_fill(b["cand"] < 0, NEG)


class PassageReader(nn.Module):
    """The attention-sum reader over a document holding K blanks: (N, T) document, (N, K, Tq)
    queries -> (N, K, T) scores; positions that cannot be answers get NEG."""

    INQ_WINDOW = 11  # words: how far a query word's presence may count for a candidate

    def __init__(self, vocab_size: int, mp: ModelParams) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, mp.embed_dim, padding_idx=0)
        self.dropout = nn.Dropout(mp.dropout)
        self.doc_rnn = BiLSTM(mp.embed_dim, mp.hidden)
        self.query_rnn = BiLSTM(mp.embed_dim, mp.hidden)
        self.bilinear = nn.Linear(4 * mp.hidden, 2 * mp.hidden, bias=False)
        self.inq = nn.Conv1d(1, 1, self.INQ_WINDOW, padding=self.INQ_WINDOW // 2)

    def forward(self, b: dict[str, torch.Tensor]) -> torch.Tensor:
        b = as_passages(b)
        d = self.doc_rnn(self.dropout(self.embed(b["doc"])), b["doc_len"])  # (N, T, 2H)
        n, k, tq = b["query"].shape
        q = self.query_rnn(self.dropout(self.embed(b["query"].reshape(n * k, tq))), b["q_len"].reshape(-1))
        at_blank = q[torch.arange(n * k, device=q.device), b["blank"].reshape(-1)].view(n, k, -1)  # (N, K, 2H)
        where = b["doc_blank"].clamp(min=0).unsqueeze(-1).expand(n, k, d.shape[-1])
        in_doc = d.gather(1, where) * (b["doc_blank"] >= 0).unsqueeze(-1)  # (N, K, 2H)
        need = self.bilinear(torch.cat([at_blank, in_doc], dim=-1))
        near = self.inq(b["inq"].to(d.dtype).reshape(n * k, 1, -1)).view(n, k, -1)
        scores = torch.einsum("nth,nkh->nkt", self.dropout(d), need) + near
        return scores.masked_fill(b["cand"].unsqueeze(1) < 0, NEG)


def answer_log_likelihood(scores: torch.Tensor, cand: torch.Tensor, answer: torch.Tensor) -> torch.Tensor:
    """(N,) log P(answer word): log of the summed softmax mass of the answer's positions. An answer
    that is not in the document (-1) has likelihood 0 (log: NEG-sized)."""
    at_answer = scores.masked_fill(cand != answer.unsqueeze(1), NEG)
    return torch.logsumexp(at_answer, dim=1) - torch.logsumexp(scores, dim=1)


def word_probabilities(scores: torch.Tensor, cand: torch.Tensor, n_words: int | None = None) -> torch.Tensor:
    """(N, W) P(word) per distinct document word: the position probabilities summed per word."""
    probs = torch.softmax(scores.float(), dim=1) * (cand >= 0)
    n_words = int(cand.max()) + 1 if n_words is None else n_words
    out = torch.zeros(len(scores), max(n_words, 1), dtype=probs.dtype, device=probs.device)
    return out.scatter_add_(1, cand.clamp(min=0), probs)


class ClozeReader(L.LightningModule):
    def __init__(self, vocab_size: int, model: dict, train: dict) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.mp = ModelParams.model_validate(model)
        self.tp = TrainParams.model_validate(train)
        if self.mp.reader == "passage":
            self.net = PassageReader(vocab_size, self.mp)
        else:
            self.net = AttentionSumReader(vocab_size, self.mp)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Scores of the document positions: (N, T) for the question reader, (N, K, T) for the passage reader."""
        return self.net(batch)

    def question_scores(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(M, T) scores, (M, T) candidates and (M,) answers of the batch's M questions, in order
        (passages: blank by blank, document by document)."""
        if self.mp.reader != "passage":
            return self.net(batch), batch["cand"], batch["answer"]
        b = as_passages(batch)
        scores = self.net(b)
        cand = b["cand"].unsqueeze(1).expand(-1, scores.shape[1], -1)
        return scores[b["qmask"]], cand[b["qmask"]], b["answer"][b["qmask"]]

    def _step(self, batch, split: str) -> torch.Tensor:
        scores, cand, answer = self.question_scores(batch)
        loss = -answer_log_likelihood(scores, cand, answer).mean()
        pred = word_probabilities(scores, cand).argmax(1)
        acc = (pred == answer).float().mean()
        n = len(pred)
        self.log(f"{split}/loss", loss, on_step=False, on_epoch=True, batch_size=n, sync_dist=True)
        self.log(f"{split}/acc", acc, on_step=False, on_epoch=True, batch_size=n, prog_bar=split == "val", sync_dist=True)
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.tp.lr, weight_decay=self.tp.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=self.tp.lr, total_steps=max(2, int(self.trainer.estimated_stepping_batches)), pct_start=0.1
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    @torch.inference_mode()
    def predict_words(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(predicted candidate index, its probability) per question (eval mode)."""
        self.eval()
        scores, cand, _ = self.question_scores(batch)
        probs = word_probabilities(scores, cand)
        best = probs.max(1)
        return best.indices, best.values
