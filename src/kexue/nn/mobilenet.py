"""MobileNet v1 (Howard et al. 2017) for small grey images such as 28x28 Fashion-MNIST.

Written here because torchvision cannot be installed on our machines (see DEVELOPERS.md) and its
MobileNet is v2/v3 for 224x224 anyway. The blog's baseline used Keras' MobileNet v1; on 28x28 input
the ImageNet stride schedule would shrink the map to 1x1, so the stem keeps full resolution and
only two stride-2 stages remain: 28 -> 14 -> 7.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

# (output channels, stride) of each depthwise-separable block, before the width multiplier.
# ImageNet v1 is 64, 128/2, 128, 256/2, 256, 512/2, 5x512, 1024/2, 1024; here the stride-2 steps are
# two instead of five and the 1024-channel tail is left out (a 7x7 map gains little from it).
BLOCKS_28: tuple[tuple[int, int], ...] = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 1),
    (512, 1),
    (512, 1),
)


# The activations a MobileNet can be built with (`activation=`); relu is the paper's.
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": lambda: nn.ReLU(inplace=True),
    "leaky_relu": lambda: nn.LeakyReLU(0.1, inplace=True),
    "elu": lambda: nn.ELU(inplace=True),
    "silu": lambda: nn.SiLU(inplace=True),  # swish
    "gelu": nn.GELU,
    "mish": lambda: nn.Mish(inplace=True),
    "softplus": nn.Softplus,
}


def _conv_bn(cin: int, cout: int, kernel: int, stride: int, groups: int = 1, activation: str = "relu") -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        ACTIVATIONS[activation](),
    ]


class DepthwiseSeparable(nn.Sequential):
    """3x3 depthwise conv + BN + activation, then 1x1 pointwise conv + BN + activation: the MobileNet
    block; with `channel_dropout` > 0, then whole output channels dropped (Dropout2d, as index 6, so
    the other layers keep their names)."""

    def __init__(self, cin: int, cout: int, stride: int, activation: str = "relu", channel_dropout: float = 0.0) -> None:
        layers = [*_conv_bn(cin, cin, 3, stride, groups=cin, activation=activation), *_conv_bn(cin, cout, 1, 1, activation=activation)]
        if channel_dropout > 0:
            layers.append(nn.Dropout2d(channel_dropout))
        super().__init__(*layers)


class MobileNetV1(nn.Module):
    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        width: float = 1.0,
        dropout: float = 0.0,
        stem_channels: int = 32,
        blocks: Sequence[tuple[int, int]] = BLOCKS_28,
        activation: str = "relu",
        dropout_kind: str = "element",
    ) -> None:
        """`dropout` drops single features of the pooled vector before the classifier (`dropout_kind`
        element) or whole feature maps after every block (channel, Dropout2d)."""
        super().__init__()
        if width <= 0:
            raise ValueError(f"width must be > 0, got {width}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        if dropout_kind not in ("element", "channel"):
            raise ValueError(f"dropout_kind must be element or channel, got {dropout_kind!r}")
        channel_dropout = dropout if dropout_kind == "channel" else 0.0

        def ch(c: int) -> int:
            return max(8, int(round(c * width / 8)) * 8)

        layers: list[nn.Module] = [*_conv_bn(in_channels, ch(stem_channels), 3, 1, activation=activation)]
        cin = ch(stem_channels)
        for cout, stride in blocks:
            layers.append(DepthwiseSeparable(cin, ch(cout), stride, activation, channel_dropout))
            cin = ch(cout)
        self.features = nn.Sequential(*layers)
        self.feature_dim = cin
        self.dropout = nn.Dropout(dropout if dropout_kind == "element" else 0.0)
        self.classifier = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Global-average-pooled features (the penultimate layer), shape (N, feature_dim)."""
        # mean() rather than AdaptiveAvgPool2d: its CUDA backward is deterministic.
        return self.features(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.embed(x)))
