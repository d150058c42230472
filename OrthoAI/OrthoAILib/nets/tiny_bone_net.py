"""A very small dilated 3-D CNN that labels bone in CT (HU in, logits out).

It exists to exercise the model runtime end to end with real, trained
weights (registry, checksum, TorchScript, sliding windows); it is not the
fracture pipeline's bone model.

Shapes: input ``B×1×D×H×W`` in Hounsfield units; output ``B×2×D×H×W`` logits
(background, bone). The HU window is part of the network, so the TorchScript
file needs no separate preprocessing. No normalisation layers: a patch's
statistics would change with the window position.
"""

from __future__ import annotations

import torch
from torch import nn


class TinyBoneNet(nn.Module):
    def __init__(self, channels: int = 8, dilations: tuple[int, ...] = (1, 2, 4),
                 hu_window: tuple[float, float] = (-200.0, 1800.0)) -> None:
        super().__init__()
        self.hu_low = float(hu_window[0])
        self.hu_high = float(hu_window[1])
        layers: list[nn.Module] = []
        in_channels = 1
        for dilation in dilations:
            layers += [nn.Conv3d(in_channels, channels, 3, padding=dilation, dilation=dilation), nn.LeakyReLU(0.1)]
            in_channels = channels
        layers.append(nn.Conv3d(channels, 2, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, hu: torch.Tensor) -> torch.Tensor:
        x = (torch.clamp(hu, self.hu_low, self.hu_high) - self.hu_low) / (self.hu_high - self.hu_low)
        return self.body(x)
