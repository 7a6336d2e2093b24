"""Parameters of the captcha task (section `captcha:` of params.yaml)."""

from __future__ import annotations

import string
from typing import Literal

from pydantic import Field, field_validator, model_validator

from kexue.params import Strict

DIGITS_UPPER = string.digits + string.ascii_uppercase


class DataParams(Strict):
    alphabet: str = Field(DIGITS_UPPER, min_length=1)  # the characters a captcha may contain
    length: int = Field(4, ge=1, le=12)  # characters per captcha
    width: int = Field(160, ge=16)  # image size in pixels, as the captcha package draws it
    height: int = Field(60, ge=16)
    input_height: int = Field(60, ge=8)  # the network's input size: preprocess scales the images to it
    input_width: int = Field(160, ge=8)
    train_size: int = Field(100000, ge=1)
    val_size: int = Field(5000, ge=1)
    test_size: int = Field(10000, ge=1)
    workers: int = Field(0, ge=0)  # processes drawing images; 0 = one per CPU core

    @field_validator("alphabet")
    @classmethod
    def _distinct_and_drawable(cls, v: str) -> str:
        repeated = sorted({c for c in v if v.count(c) > 1})
        if repeated:
            raise ValueError(f"characters listed twice: {''.join(repeated)!r}")
        from kexue.tasks.captcha.generate import undrawable

        missing = undrawable(v)
        if missing:
            raise ValueError(f"the captcha font cannot draw {''.join(missing)!r}")
        return v


class ModelParams(Strict):
    head: Literal["per-position", "ctc"] = "per-position"
    width: float = Field(0.5, gt=0, le=4)  # channel multiplier of the Xception-style network
    middle_blocks: int = Field(2, ge=0)  # residual blocks of three separable convolutions at the smallest scale
    dropout: float = Field(0.2, ge=0, lt=1)


class TrainParams(Strict):
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(128, ge=1)
    lr: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    warmup_epochs: float = Field(0.5, ge=0)
    train_limit: int = Field(0, ge=0)  # use only the first N training images (0 = all)


class EvaluateParams(Strict):
    batch_size: int = Field(500, ge=1)
    misread_examples: int = Field(24, ge=0)  # misread test images drawn in misread.png
    top_confusions: int = Field(15, ge=1)
    # groups of characters the font draws (nearly) alike; a second accuracy counts them as one
    lookalikes: list[str] = ["0O"]


class CaptchaParams(Strict):
    data: DataParams = DataParams()
    model: ModelParams = ModelParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()

    @model_validator(mode="after")
    def _enough_strings(self) -> "CaptchaParams":
        d = self.data
        if len(d.alphabet) ** d.length < 2 * (d.val_size + d.test_size):
            raise ValueError(
                f"data.alphabet ({len(d.alphabet)} characters) and data.length ({d.length}) allow only "
                f"{len(d.alphabet) ** d.length} strings: too few to keep val/test strings out of training"
            )
        return self
