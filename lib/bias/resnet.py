"""ResNet18 (paper 04: "standard ResNets with global average pooling", FC [512-c]), two stems.

- ``stem="standard"``: the torchvision ResNet18 layout (7x7 stride-2 convolution + 3x3 stride-2 max-pool),
  the network DisEnt's code builds (``torchvision.models.resnet18`` with a new FC layer). At 28 px the
  feature maps are 7x7 after the stem, so it costs far fewer FLOPs than the CIFAR stem.
- ``stem="cifar"``: the CIFAR-style adaptation for 28x28 / 32x32 inputs: a 3x3 stride-1 stem, no max-pool.

Then four stages of two BasicBlocks ([2, 2, 2, 2]) with strides 1, 2, 2, 2, global average pooling,
dropout (0.4 in the paper) and one linear layer ``512*width -> num_classes``.

Every activation is its own ``nn.ReLU`` module (never in-place, never reused),
so forward hooks on the leaf modules (as used by ``lib.bias.cka``) see every conv,
batch-norm, activation, pooling, dropout and FC output.

Shapes: input ``(n, in_channels, H, W)`` float; output logits ``(n, num_classes)``.
"""

from __future__ import annotations

import torch
from torch import nn

BLOCKS = (2, 2, 2, 2)
STEMS = ("cifar", "standard")
BASE_CHANNELS = (64, 128, 256, 512)


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN(-ReLU) layers plus the identity (or 1x1 conv-BN projection) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet18 (BasicBlock, [2, 2, 2, 2]) for small inputs.

    width: channel multiplier (1.0 = the standard 64-128-256-512 network, 11,173,962 parameters for
    10 classes with the CIFAR stem, 11,181,642 with the standard stem); dropout: rate before the FC layer;
    stem: one of STEMS (see the module docstring).
    """

    def __init__(
        self, num_classes: int = 10, in_channels: int = 3, width: float = 1.0, dropout: float = 0.4, stem: str = "cifar"
    ):
        super().__init__()
        if stem not in STEMS:
            raise ValueError(f"stem must be one of {STEMS}, got {stem!r}")
        if width <= 0:
            raise ValueError(f"width must be > 0, got {width!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        chans = [max(1, int(round(c * width))) for c in BASE_CHANNELS]
        if stem == "cifar":
            self.conv1 = nn.Conv2d(in_channels, chans[0], 3, stride=1, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, chans[0], 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(chans[0])
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1) if stem == "standard" else None
        layers, c_in = [], chans[0]
        for i, (c_out, n_blocks) in enumerate(zip(chans, BLOCKS)):
            blocks = []
            for j in range(n_blocks):
                blocks.append(BasicBlock(c_in, c_out, stride=(1 if i == 0 or j > 0 else 2)))
                c_in = c_out
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(chans[-1], num_classes)
        self.feature_dim = chans[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        if self.maxpool is not None:
            x = self.maxpool(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.dropout(self.flatten(self.avgpool(x))))


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
