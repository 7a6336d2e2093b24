"""An Xception-style CNN (Chollet 2017) for small images such as 60x160 captchas.

torchvision has no Xception (and cannot be installed here, see DEVELOPERS.md); timm's is built for
299x299 ImageNet with 2048 channels. This keeps Xception's design, scaled down: an entry flow of
residual blocks (ReLU, depthwise-separable conv, BN, twice, then a strided max-pool, with a strided
1x1 conv on the shortcut), a middle flow of residual blocks of three separable convs, and no exit
flow (a head per task sits on the feature map instead).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class SeparableConv(nn.Sequential):
    """3x3 depthwise conv, then 1x1 pointwise conv (no activation in between, as in Xception)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False), nn.Conv2d(cin, cout, 1, bias=False))


class EntryBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: tuple[int, int], first_relu: bool = True) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU() if first_relu else nn.Identity(),
            SeparableConv(cin, cout),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
            SeparableConv(cout, cout),
            nn.BatchNorm2d(cout),
            nn.MaxPool2d(3, stride, 1),
        )
        self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class MiddleBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(3):
            layers += [nn.ReLU(), SeparableConv(c, c), nn.BatchNorm2d(c)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class XceptionFeatures(nn.Module):
    """Image (N, 1, H, W) -> feature map (N, C, H/16, W/8): the last entry block halves only the
    height, so a wide image keeps enough columns for a sequence (CTC) head."""

    def __init__(
        self,
        in_channels: int = 1,
        width: float = 1.0,
        entry: Sequence[int] = (128, 256, 384),
        middle_blocks: int = 2,
    ) -> None:
        super().__init__()

        def ch(c: int) -> int:
            return max(8, int(round(c * width / 8)) * 8)

        stem = [
            nn.Conv2d(in_channels, ch(32), 3, 2, 1, bias=False),
            nn.BatchNorm2d(ch(32)),
            nn.ReLU(),
            nn.Conv2d(ch(32), ch(64), 3, 1, 1, bias=False),
            nn.BatchNorm2d(ch(64)),
            nn.ReLU(),
        ]
        blocks: list[nn.Module] = []
        cin = ch(64)
        strides = [(2, 2)] * (len(entry) - 1) + [(2, 1)]
        for i, (c, stride) in enumerate(zip(entry, strides)):
            blocks.append(EntryBlock(cin, ch(c), stride, first_relu=i > 0))
            cin = ch(c)
        blocks += [MiddleBlock(cin) for _ in range(middle_blocks)]
        self.net = nn.Sequential(*stem, *blocks, nn.ReLU())
        self.out_channels = cin
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
