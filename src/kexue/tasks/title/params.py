"""Parameters of the title task (section `title:` of params.yaml)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from kexue.params import Strict


class DataParams(Strict):
    # The 2,000 mirrored CSL pairs are re-split: `test_size` and `val_size` pairs drawn with `split_seed`,
    # the rest train. Its own seed, not `seed`: a sweep over seeds then scores every model on the same test pairs.
    val_size: int = Field(200, ge=1)
    test_size: int = Field(200, ge=1)
    split_seed: int = 0
    min_count: int = Field(2, ge=1)  # characters seen fewer times in the training pairs read as <unk>


class ModelParams(Strict):
    embed_dim: int = Field(128, ge=1)  # one character table, shared by encoder and decoder (the post's choice)
    hidden: int = Field(128, ge=1)  # LSTM units per encoder direction; the decoder has twice as many
    layers: int = Field(2, ge=1)  # BiLSTM layers of the encoder, LSTM layers of the decoder
    heads: int = Field(8, ge=1)  # attention heads (2 * hidden must divide by it)
    dropout: float = Field(0.3, ge=0, lt=1)
    prior: bool = True  # the post's trick: a bag of the abstract's characters, scaled and shifted, averaged into the logits
    pointer: bool = True  # not in the post: a pointer-generator gate that copies characters from where the decoder attends
    max_source: int = Field(256, ge=8)  # the encoder reads the abstract's first N characters (the prior too)

    @model_validator(mode="after")
    def _heads_divide_the_width(self) -> ModelParams:
        if (2 * self.hidden) % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide the decoder's width 2 * hidden ({2 * self.hidden})")
        return self


class TrainParams(Strict):
    epochs: int = Field(12, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(3e-3, gt=0)  # peak of a one-cycle schedule
    weight_decay: float = Field(0.01, ge=0)
    clip: float = Field(1.0, ge=0)  # gradient norm clipping; 0 = off
    max_title: int = Field(48, ge=2)  # training titles cut to this many characters (the longest has 50)
    train_limit: int = Field(0, ge=0)  # use only the first N training pairs (0 = all)


class DecodeParams(Strict):
    """How titles are generated (evaluate and predict): beam search, 1 = greedy."""

    beam: int = Field(3, ge=1)
    max_len: int = Field(40, ge=1)  # characters, the end token not counted


class EvaluateParams(Strict):
    batch_size: int = Field(100, ge=1)  # abstracts decoded together
    beams: list[Annotated[int, Field(ge=1)]] = [1, 3, 5]  # beam widths also scored (metrics `by_beam`), besides decode.beam
    examples: int = Field(20, ge=1)  # test abstracts on the side-by-side page


class TitleParams(Strict):
    data: DataParams = DataParams()
    model: ModelParams = ModelParams()
    train: TrainParams = TrainParams()
    decode: DecodeParams = DecodeParams()
    evaluate: EvaluateParams = EvaluateParams()
