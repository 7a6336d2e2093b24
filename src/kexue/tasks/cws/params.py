"""Parameters of the cws task (section `cws:` of params.yaml)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kexue.params import EmaDecay, Strict


class DataParams(Strict):
    val_fraction: float = Field(0.05, gt=0, lt=0.5)  # of the training sentences, seeded
    max_len: int = Field(150, ge=8)  # sentences longer than this are cut (training only) at punctuation, else hard
    min_count: int = Field(1, ge=1)  # characters seen fewer times in training map to <unk>
    overlap_min_chars: int = Field(10, ge=1)  # test lines at least this long are searched for in the training text
    bigram_min_count: int = Field(2, ge=1)  # character pairs seen fewer times in training share one "unknown" vector


class ModelParams(Strict):
    embed_dim: int = Field(128, ge=1)
    bigram_dim: int = Field(64, ge=0)  # embeddings of the pairs (previous, this) and (this, next) character; 0 = off
    bigram_dropout: float = Field(0.1, ge=0, lt=1)  # training only: a pair is read as "unknown pair" with this probability
    encoder: Literal["bilstm", "cnn"] = "bilstm"
    hidden: int = Field(128, ge=1)  # LSTM units per direction, or CNN channels
    layers: int = Field(2, ge=1)
    kernel: int = Field(3, ge=1)  # CNN kernel width (odd)
    dropout: float = Field(0.3, ge=0, lt=1)


class TrainParams(Strict):
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(4e-3, gt=0)  # peak of a one-cycle schedule
    weight_decay: float = Field(0.0, ge=0)
    ema_decay: EmaDecay = 0.999  # EMA decay of the weights (Lightning's EMAWeightAveraging), validated and saved; 0 = off
    train_limit: int = Field(0, ge=0)  # use only the first N training sentences (0 = all)


class EvaluateParams(Strict):
    batch_size: int = Field(256, ge=1)


class CwsParams(Strict):
    data: DataParams = DataParams()
    model: ModelParams = ModelParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
