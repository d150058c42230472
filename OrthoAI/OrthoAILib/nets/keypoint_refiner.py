"""Local keypoint refinement: a small U-Net whose heatmaps give sub-pixel positions.

Input ``B×1×S×S`` crops centred on coarse keypoints; output ``B×K×S×S``
heatmap logits, one channel per keypoint class. The position of class ``k``
is the soft-argmax (the expectation under a spatial softmax) of channel
``k``, in crop pixels; a crop's confidence is the peak of that softmax.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import double_conv


class KeypointRefiner(nn.Module):
    def __init__(self, num_keypoints: int, channels: tuple[int, ...] = (16, 32, 48, 64)) -> None:
        super().__init__()
        self.encoders = nn.ModuleList()
        previous = 1
        for width in channels:
            self.encoders.append(double_conv(previous, width))
            previous = width
        # deepest first, in the order the decoder runs
        self.decoders = nn.ModuleList(double_conv(channels[i + 1] + channels[i], channels[i])
                                      for i in range(len(channels) - 2, -1, -1))
        self.head = nn.Conv2d(channels[0], num_keypoints, 1)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        skips: list[torch.Tensor] = []
        x = crops
        for index, encoder in enumerate(self.encoders):
            x = encoder(x)
            if index < len(self.encoders) - 1:
                skips.append(x)
                x = F.max_pool2d(x, 2)
        for index, decoder in enumerate(self.decoders):
            skip = skips[len(skips) - 1 - index]
            x = upsample_bilinear(x, skip.shape[-2:])
            x = decoder(torch.cat([x, skip], dim=1))
        return self.head(x)

    @torch.jit.export
    def locate(self, crops: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """``B×3``: soft-argmax (row, column) in crop pixels and peak probability, for each
        crop's class."""
        heatmaps = self.forward(crops)
        chosen = heatmaps[torch.arange(crops.shape[0]), classes]  # B×S×S
        return soft_argmax(chosen)


def upsample_bilinear(x: torch.Tensor, size: list[int]) -> torch.Tensor:
    """``F.interpolate(x, size, mode="bilinear", align_corners=False)`` for ``B×C×H×W``, as the one
    operator it runs.

    Scripting ``F.interpolate`` copies its whole body into the model file, with the operators of
    every mode the exporting torch knows; one that torch 2.11 and older lack (lanczos) makes such a file
    unloadable by the older torch of Slicer 5.8. This operator exists in every torch 2.x.
    """
    return torch._C._nn.upsample_bilinear2d(x, size, False, None)


def soft_argmax(heatmaps: torch.Tensor) -> torch.Tensor:
    """``B×H×W`` logits -> ``B×3``: expected (row, column) and the softmax peak."""
    batch, height, width = heatmaps.shape
    probabilities = torch.softmax(heatmaps.reshape(batch, -1), dim=1).reshape(batch, height, width)
    rows = torch.arange(height, dtype=heatmaps.dtype, device=heatmaps.device)
    columns = torch.arange(width, dtype=heatmaps.dtype, device=heatmaps.device)
    row = (probabilities.sum(dim=2) * rows).sum(dim=1)
    column = (probabilities.sum(dim=1) * columns).sum(dim=1)
    peak = probabilities.reshape(batch, -1).max(dim=1).values
    return torch.stack([row, column, peak], dim=1)
