"""Parameters of the fashion task (section `fashion:` of params.yaml)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from kexue import augment
from kexue.params import Strict

TTA_CHOICES = ("none", "flip", "flip+shift")  # evaluate.tta: the kinds of test-time views (evaluate.views)


class DataParams(Strict):
    val_size: int = Field(5000, ge=1, le=59999)  # carved from the 60k training images, seeded


class ModelParams(Strict):
    width: float = Field(2.0, gt=0, le=4)  # MobileNet width multiplier
    dropout: float = Field(0.0, ge=0, lt=1)


class TrainParams(Strict):
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(128, ge=1)
    optimizer: Literal["sgd", "adamw"] = "sgd"
    lr: float = Field(0.1, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(5e-4, ge=0)
    schedule: Literal["cosine", "constant"] = "cosine"
    warmup_epochs: float = Field(1.0, ge=0)
    label_smoothing: float = Field(0.1, ge=0, lt=1)
    augment: str = "flip+shift"  # 'none' or a '+'-joined subset of flip, shift, erase
    mixup_alpha: float = Field(0.0, ge=0)  # 0 = off
    ema_decay: float = Field(0.999, ge=0, lt=1)  # EMA of the weights (Lightning's WeightAveraging); 0 = off
    train_limit: int = Field(0, ge=0)  # use only the first N training images (0 = all)

    @field_validator("augment")
    @classmethod
    def _known_augment(cls, v: str) -> str:
        augment.parse(v)
        return v


class EvaluateParams(Strict):
    batch_size: int = Field(1000, ge=1)
    # test-time augmentation: average the class probabilities of each image and its mirror image
    # (flip; the network was trained on flips), of those two each also moved one pixel up, down, left
    # and right (flip+shift, 10 views; trained on shifts), or the image alone (none). Evaluate reports
    # the single view's test accuracy too, and with compare_tta the validation accuracy of all three.
    tta: Literal[TTA_CHOICES] = "flip"
    compare_tta: bool = True  # score every tta choice on the validation images (false: the chosen one and one view)


class FashionParams(Strict):
    data: DataParams = DataParams()
    model: ModelParams = ModelParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
