"""A compact 2-D U-Net for binary segmentation of greyscale images (the fetal head).

Shapes: input ``B×1×H×W`` (H and W multiples of 16, intensities normalised per image by the
pipeline), output ``B×1×H×W`` logits. Transposed convolutions up-sample (no interpolation op, so
the TorchScript file runs unchanged in older torch); batch norm is folded into eval mode.
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import double_conv, unet_decoder


class UNet2d(nn.Module):
    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 96, 128)) -> None:
        super().__init__()
        self.down = nn.ModuleList()
        in_channels = 1
        for width in widths:
            self.down.append(double_conv(in_channels, width))
            in_channels = width
        self.pool = nn.MaxPool2d(2)
        self.up, self.merge, in_channels = unet_decoder(widths, in_channels)
        self.head = nn.Conv2d(in_channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips: list[torch.Tensor] = []
        for index, block in enumerate(self.down):
            if index > 0:
                x = self.pool(x)
            x = block(x)
            skips.append(x)
        skips.pop()
        for up, merge in zip(self.up, self.merge):
            x = up(x)
            x = merge(torch.cat([x, skips.pop()], dim=1))
        return self.head(x)
