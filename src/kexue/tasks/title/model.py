"""The post's seq2seq title writer (玩转Keras之seq2seq自动生成标题), as one LightningModule.

    abstract characters -> embedding -> BiLSTM encoder (`layers` of them) -> memory (N, S, 2H)
    <s> + title so far  -> the same embedding -> LSTM decoder (`layers`, 2H units) -> states (N, T, 2H)
    each decoder state: multi-head attention over the memory, and the memory's max over time;
        [attended, state, max] -> dense -> LeakyReLU(0.2) -> logits over the characters
    prior (`model.prior`, the post's trick): most title characters occur in the abstract, so the
        abstract's characters as a 0/1 bag over the vocabulary, scaled and shifted per character
        (exp(log_scale) * bag + shift, learnt, starting at 1 and 0), are averaged with the logits
    pointer (`model.pointer`, not in the post: a pointer-generator, See et al. 2017): a learnt gate mixes the
        softmax of those logits with the attention weights on the abstract's characters, so that a
        character can be copied from where the decoder attends; off, the model is the post's

Trained with teacher forcing (negative log-likelihood of every next character); titles come from
greedy decoding or beam search, one decoder step at a time on the same layers.
"""

from __future__ import annotations

import math

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from kexue.nn.birnn import BiLSTM
from kexue.tasks.title.data import BOS, EOS, encode_source
from kexue.tasks.title.params import ModelParams, TrainParams
from kexue.tasks.title.rouge import f1, scorer
from kexue.text.batching import pad_batch
from kexue.text.vocab import PAD, UNK, Vocab

State = tuple[torch.Tensor, torch.Tensor]  # the decoder LSTM's (h, c), each (layers, M, 2H)


class Memory:
    """What the decoder reads of the encoded abstracts: their ids, states, padding, the states' max
    over time, and the prior's bag of characters."""

    def __init__(self, ids: torch.Tensor, states: torch.Tensor, pad: torch.Tensor, pooled: torch.Tensor,
                 bag: torch.Tensor | None) -> None:
        self.ids, self.states, self.pad, self.pooled, self.bag = ids, states, pad, pooled, bag

    def select(self, rows: torch.Tensor) -> Memory:
        """The rows `rows` (beam search: each abstract repeated once per hypothesis)."""
        return Memory(self.ids[rows], self.states[rows], self.pad[rows], self.pooled[rows],
                      None if self.bag is None else self.bag[rows])


def char_bag(ids: torch.Tensor, lengths: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """(N, S) ids, (N,) lengths -> (N, V): 1.0 at each id found in the first `lengths[n]` of row n, 0.0
    elsewhere (padding, id 0, never counts)."""
    real = torch.arange(ids.shape[1], device=ids.device) < lengths.to(ids.device).unsqueeze(1)
    bag = torch.zeros(ids.shape[0], vocab_size, device=ids.device)
    bag.scatter_(1, ids.masked_fill(~real, 0), 1.0)
    bag[:, 0] = 0.0
    return bag


class TitleWriter(L.LightningModule):
    def __init__(self, vocab: list[str], model: dict, train: dict) -> None:
        super().__init__()
        self.save_hyperparameters()  # the vocabulary travels in the checkpoint: predicting needs nothing else
        self.vocab = Vocab(vocab)
        self.mp = mp = ModelParams.model_validate(model)
        self.tp = TrainParams.model_validate(train)
        V, H = len(self.vocab), mp.hidden
        self.bos, self.eos = self.vocab.stoi[BOS], self.vocab.stoi[EOS]
        self.embed = nn.Embedding(V, mp.embed_dim, padding_idx=0)
        self.encoder = nn.ModuleList(BiLSTM(mp.embed_dim if i == 0 else 2 * H, H) for i in range(mp.layers))
        self.decoder = nn.LSTM(mp.embed_dim, 2 * H, num_layers=mp.layers, batch_first=True,
                               dropout=mp.dropout if mp.layers > 1 else 0.0)
        self.attention = nn.MultiheadAttention(2 * H, mp.heads, batch_first=True)
        self.mix = nn.Linear(3 * 2 * H, 2 * H)
        self.out = nn.Linear(2 * H, V)
        self.dropout = nn.Dropout(mp.dropout)
        if mp.prior:
            self.prior_log_scale = nn.Parameter(torch.zeros(V))
            self.prior_shift = nn.Parameter(torch.zeros(V))
        if mp.pointer:
            self.gate = nn.Linear(2 * 2 * H + mp.embed_dim, 1)  # [attended, state, input character] -> P(generate)
        # never generated: padding, unknown character, start token
        self.register_buffer("banned", torch.tensor([self.vocab.stoi[t] for t in (PAD, UNK, BOS)]), persistent=False)
        self.val_rouge = scorer()

    # --- the network ---------------------------------------------------------------------------

    def encode(self, src: torch.Tensor, lengths: torch.Tensor) -> Memory:
        """(N, S) abstract ids, right-padded, and their (N,) lengths -> the decoder's memory."""
        h = self.dropout(self.embed(src))
        for i, rnn in enumerate(self.encoder):
            # BiLSTM: exact on right-padded batches without pack_padded_sequence (6-14x slower backward on CPU)
            h = rnn(self.dropout(h) if i else h, lengths)
        pad = torch.arange(src.shape[1], device=src.device) >= lengths.to(src.device).unsqueeze(1)  # (N, S)
        pooled = h.masked_fill(pad.unsqueeze(-1), -math.inf).amax(dim=1)  # (N, 2H)
        bag = char_bag(src, lengths, len(self.vocab)) if self.mp.prior else None
        return Memory(src, h, pad, pooled, bag)

    def decode(self, y: torch.Tensor, memory: Memory, state: State | None = None) -> tuple[torch.Tensor, State]:
        """(M, T) title ids (from <s>) -> (M, T, V) log-probabilities of each next character, and the
        LSTM state after them (decoding goes on from it, one step at a time)."""
        e = self.dropout(self.embed(y))
        h, state = self.decoder(e, state)
        attended, weights = self.attention(h, memory.states, memory.states, key_padding_mask=memory.pad,
                                           need_weights=self.mp.pointer)  # weights: (M, T, S), the heads' mean
        pooled = memory.pooled.unsqueeze(1).expand(-1, h.shape[1], -1)
        z = F.leaky_relu(self.mix(self.dropout(torch.cat([attended, h, pooled], dim=-1))), 0.2)
        logits = self.out(self.dropout(z))
        if memory.bag is not None:
            prior = self.prior_log_scale.exp() * memory.bag + self.prior_shift  # (M, V)
            logits = (logits + prior.unsqueeze(1)) / 2
        if not self.mp.pointer:
            return logits.float().log_softmax(-1), state
        generate = torch.sigmoid(self.gate(torch.cat([attended, h, e], dim=-1))).float()  # (M, T, 1)
        ids = memory.ids.unsqueeze(1).expand(-1, h.shape[1], -1)  # (M, T, S)
        copy = torch.zeros_like(logits, dtype=torch.float).scatter_add_(2, ids, weights.float())  # attention on each character
        probs = generate * logits.float().softmax(-1) + (1 - generate) * copy
        return probs.clamp_min(1e-12).log(), state

    def forward(self, src: torch.Tensor, lengths: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: log-probabilities (N, T, V) of the characters after each of `y`'s."""
        return self.decode(y, self.encode(src, lengths))[0]

    # --- training ----------------------------------------------------------------------------------

    def _loss(self, batch) -> torch.Tensor:
        src, lengths, tgt, _ = batch
        logp = self(src, lengths, tgt[:, :-1])
        return F.nll_loss(logp.reshape(-1, logp.shape[-1]), tgt[:, 1:].reshape(-1), ignore_index=0)

    def training_step(self, batch, batch_idx):
        loss = self._loss(batch)
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=batch[0].shape[0])
        return loss

    def validation_step(self, batch, batch_idx):
        src, lengths, _, titles = batch
        self.log("val/loss", self._loss(batch), on_step=False, on_epoch=True, sync_dist=True, batch_size=src.shape[0])
        # greedy titles as long as the longest training title: checkpoints are chosen by what decoding makes
        self.val_rouge.update(self.to_text(self.greedy(src, lengths, self.tp.max_title)), titles)

    def on_validation_epoch_end(self) -> None:
        scores = f1(self.val_rouge.compute())
        self.val_rouge.reset()
        self.log("val/rougeL", scores["rougeL"], prog_bar=True, sync_dist=True)
        self.log("val/rouge1", scores["rouge1"], sync_dist=True)

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.tp.lr, weight_decay=self.tp.weight_decay, fused=True)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=self.tp.lr, total_steps=max(2, int(self.trainer.estimated_stepping_batches)), pct_start=0.1
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # --- decoding ----------------------------------------------------------------------------------

    def next_log_probs(self, logp: torch.Tensor) -> torch.Tensor:
        """(M, V) log-probabilities -> the same with padding, <unk> and <s> ruled out (renormalised)."""
        return logp.float().index_fill(-1, self.banned, -math.inf).log_softmax(-1)

    @torch.inference_mode()
    def greedy(self, src: torch.Tensor, lengths: torch.Tensor, max_len: int) -> list[list[int]]:
        """The most probable next character each step, until </s> or `max_len` characters."""
        memory = self.encode(src, lengths)
        y = torch.full((src.shape[0], 1), self.bos, dtype=torch.long, device=src.device)
        state, out = None, []
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len):
            logp, state = self.decode(y, memory, state)
            y = self.next_log_probs(logp[:, -1]).argmax(-1, keepdim=True)
            out.append(y)
            done |= y.squeeze(1) == self.eos
            if done.all():
                break
        rows = torch.cat(out, dim=1).tolist() if out else [[] for _ in range(src.shape[0])]
        return [row[: row.index(self.eos)] if self.eos in row else row for row in rows]

    @torch.inference_mode()
    def beam_search(self, src: torch.Tensor, lengths: torch.Tensor, beam: int, max_len: int) -> list[list[int]]:
        """The title of highest total log-probability that beam search finds, per abstract.

        Each step keeps the `beam` best unfinished titles of each abstract. Of the 2 * beam best
        continuations, those that end (</s>) within the first `beam` are finished titles; the others go
        on. An abstract is done once its best finished title scores at least its best unfinished one
        (a longer title only loses probability). With beam 1 that is greedy decoding, step for step."""
        N, B = src.shape[0], beam
        rows = torch.arange(N, device=src.device).repeat_interleave(B)  # hypothesis n * B + b reads abstract n
        memory = self.encode(src, lengths).select(rows)
        V = len(self.vocab)
        scores = torch.full((N, B), -math.inf, device=src.device)
        scores[:, 0] = 0.0  # the beams start identical: one is enough
        tokens = torch.full((N * B, 1), self.bos, dtype=torch.long, device=src.device)
        state: State | None = None
        finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(N)]
        done = [False] * N
        for _ in range(max_len):
            step, state = self.decode(tokens[:, -1:], memory, state)
            logp = self.next_log_probs(step[:, -1]).view(N, B, V)
            top, idx = (scores.unsqueeze(-1) + logp).view(N, B * V).topk(min(2 * B, B * V), dim=1)
            top_l, from_l, tok_l = top.tolist(), (idx // V).tolist(), (idx % V).tolist()
            keep = list(range(N * B))  # the row each hypothesis goes on from (done abstracts: any)
            next_tok = [self.eos] * (N * B)
            next_scores = [-math.inf] * (N * B)
            for n in range(N):
                if done[n]:
                    continue
                k = 0
                for j, (s, b, t) in enumerate(zip(top_l[n], from_l[n], tok_l[n])):
                    if s == -math.inf or k == B:
                        break
                    if t == self.eos:
                        if j < B:
                            finished[n].append((s, tokens[n * B + b, 1:].tolist()))
                    else:
                        keep[n * B + k], next_tok[n * B + k], next_scores[n * B + k] = n * B + b, t, s
                        k += 1
                if finished[n] and max(f[0] for f in finished[n]) >= next_scores[n * B]:
                    done[n] = True
            if all(done):
                break
            rows_kept = torch.tensor(keep, device=src.device)
            tokens = torch.cat([tokens[rows_kept], torch.tensor(next_tok, device=src.device).view(-1, 1)], dim=1)
            state = (state[0][:, rows_kept], state[1][:, rows_kept])
            scores = torch.tensor(next_scores, device=src.device).view(N, B)
        out = []
        for n in range(N):
            if finished[n]:
                out.append(max(finished[n], key=lambda f: f[0])[1])
            else:  # nothing ended within max_len characters: the best unfinished title
                out.append(tokens[n * B + int(scores[n].argmax()), 1:].tolist())
        return out

    def to_text(self, ids: list[list[int]]) -> list[str]:
        return ["".join(self.vocab.decode(row)) for row in ids]

    @torch.inference_mode()
    def write_titles(self, abstracts: list[str], beam: int, max_len: int, batch_size: int = 100) -> list[str]:
        """A title for each abstract (beam 1: greedy), batched by similar abstract lengths."""
        self.eval()
        order = sorted(range(len(abstracts)), key=lambda i: len(abstracts[i]))
        titles: dict[int, str] = {}
        for start in range(0, len(order), batch_size):
            part = order[start : start + batch_size]
            src, lengths = pad_batch([encode_source(abstracts[i], self.vocab, self.mp.max_source) for i in part])
            src = src.to(self.device)
            ids = self.beam_search(src, lengths, beam, max_len)
            titles.update(zip(part, self.to_text(ids)))
        return [titles[i] for i in range(len(abstracts))]
