"""Parameters of the sentiment task (section `sentiment:` of params.yaml)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from kexue.params import Strict


class DataParams(Strict):
    tokens: Literal["word", "char"] = "word"  # jieba words, or single characters
    val_fraction: float = Field(0.1, gt=0, lt=0.5)  # of the deduplicated reviews, per label (stratified)
    test_fraction: float = Field(0.1, gt=0, lt=0.5)
    min_count: int = Field(2, ge=1)  # a token enters the vocabulary after this many training occurrences
    max_vocab: int = Field(0, ge=0)  # 0 = no cap
    max_len: int = Field(200, ge=1)  # tokens kept per review (the first ones)

    @model_validator(mode="after")
    def _room_for_training(self) -> "DataParams":
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ValueError("val_fraction + test_fraction leave under 10% of the reviews for training")
        return self


class SentimentParams(Strict):
    data: DataParams = DataParams()
