"""Parameters of the fashion task (section `fashion:` of params.yaml)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from kexue import augment
from kexue.params import EmaDecay, Strict

TTA_CHOICES = ("none", "flip", "flip+shift")  # evaluate.tta: the kinds of test-time views (evaluate.views)
# model.activation: nn/mobilenet.py's ACTIVATIONS (a test checks they agree; not imported, so that every
# stage reading these params need not list the network's file)
ACTIVATION_CHOICES = ("relu", "leaky_relu", "elu", "silu", "gelu", "mish", "softplus")


class DataParams(Strict):
    val_size: int = Field(5000, ge=1, le=59999)  # carved from the 60k training images, seeded


class ModelParams(Strict):
    width: float = Field(2.0, gt=0, le=4)  # MobileNet width multiplier
    activation: Literal[ACTIVATION_CHOICES] = "relu"  # relu | leaky_relu | elu | silu (swish) | gelu | mish | softplus
    dropout: float = Field(0.0, ge=0, lt=1)
    # element: single features of the pooled vector, before the classifier; channel: whole feature
    # maps after every block (Dropout2d)
    dropout_kind: Literal["element", "channel"] = "element"
    spectral_norm: bool = False  # every conv/linear weight divided by its largest singular value (torch's parametrization)


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
    # SamplePairing (Inoue 2018): this fraction of each batch's images averaged with another image of
    # the batch, keeping their own label; 0 = off
    sample_pairing: float = Field(0.0, ge=0, le=1)
    ema_decay: EmaDecay = 0.999  # EMA of the weights (Lightning's WeightAveraging); 0 = off
    # each block's learning rate = lr x lr_layer_decay ** (blocks above it; the classifier is the top); 1 = off
    lr_layer_decay: float = Field(1.0, gt=0, le=1)
    grad_clip: float = Field(0.0, ge=0)  # clip the gradient at this (Lightning's clip_gradients); 0 = off
    grad_clip_algorithm: Literal["norm", "value"] = "norm"  # norm: the global L2 norm; value: each element
    grad_clip_per_param: float = Field(0.0, ge=0)  # clip each parameter tensor's gradient to this L2 norm; 0 = off
    # lambda of lambda * sum of sigma_max(W)^2 over conv/linear weights (Yoshida & Miyato 2017,
    # one power iteration a step); 0 = off
    spectral_reg: float = Field(0.0, ge=0)
    center_loss: float = Field(0.0, ge=0)  # weight of the center loss (Wen et al. 2016; one learnt centre a class); 0 = off
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
    # training accuracy (one view) on this many training images, a fixed seeded subset, for the
    # generalisation gap (train - test accuracy, one view); 0 = off
    train_subset: int = Field(10000, ge=0)
    # test accuracy (one view) under Gaussian noise of these standard deviations on [0, 1] pixels
    # (fixed seed, clipped to [0, 1]); [] = off
    noise_sigmas: list[Annotated[float, Field(gt=0, le=1)]] = [0.1, 0.2]


class FashionParams(Strict):
    data: DataParams = DataParams()
    model: ModelParams = ModelParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
