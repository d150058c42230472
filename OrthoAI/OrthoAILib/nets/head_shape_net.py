"""A small CNN that classifies the head shape on a square crop of the fetal head.

Base: four convolution stages (3×3 convolutions, batch norm, ReLU, max pooling between them).
Head: global average pooling, then a fully connected part deeper than a base network's single
classifier layer (three layers with dropout). ``forward`` returns the class logits and the last
stage's feature maps, so Grad-CAM can take the gradient of a class score with respect to them.

Shapes: input ``B×1×96×96`` (normalised crop), outputs ``B×C`` logits and ``B×128×12×12`` features.
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import double_conv


class HeadShapeNet(nn.Module):
    def __init__(self, classes: int = 3, widths: tuple[int, ...] = (16, 32, 64, 128)) -> None:
        super().__init__()
        stages: list[nn.Module] = []
        in_channels = 1
        for index, width in enumerate(widths):
            if index > 0:
                stages.append(nn.MaxPool2d(2))
            stages.append(double_conv(in_channels, width))
            in_channels = width
        self.features = nn.Sequential(*stages)
        self.classifier = nn.Sequential(
            nn.Linear(in_channels, 128), nn.ReLU(inplace=True), nn.Dropout(0.3),
            nn.Linear(128, 64), nn.ReLU(inplace=True), nn.Dropout(0.2),
            nn.Linear(64, classes),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(x)
        return self.classifier(features.mean(dim=(2, 3))), features
