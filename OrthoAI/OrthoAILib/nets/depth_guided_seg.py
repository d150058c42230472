"""Depth-guided lesion segmentation: depth features become attention weights on the image features.

* **Image encoder**: a U-Net encoder on the RGB frame (five levels).
* **Depth feature extractor**: convolutions and pooling on two depth channels, the log-depth
  (zero mean per frame, so the unknown scale of a monocular estimate drops out) and the magnitude of
  its gradient (a fixed Sobel filter), which is large where the depth changes sharply, as it does at
  the rim of a polyp standing out of the wall.
* **Attention**: at each of the four deeper levels, a 1×1 convolution and a sigmoid turn the depth
  features into one weight per region, ``a`` in (0, 1); the image features are multiplied by
  ``1 + a`` (regions where depth says "something stands out" are amplified, the rest keep their
  features, so a poor depth map can only fail to help).
* **Decoder**: transposed-convolution up-sampling with skip connections, to lesion logits.

``use_depth=False`` builds the same network without the depth branch (weights fixed at 1): the
ablation that tells what the depth guidance adds.

Shapes: ``forward(image B×3×H×W, depth B×1×H×W in cm)`` → ``B×1×H×W`` logits; H and W multiples of 16.
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import double_conv, unet_decoder


def _conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
                         nn.ReLU(inplace=True))


class DepthGuidedSegNet(nn.Module):
    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128, 160), depth_widths: tuple[int, ...] = (8, 16, 16, 32),
                 use_depth: bool = True) -> None:
        super().__init__()
        self.use_depth = use_depth
        self.down = nn.ModuleList()
        in_channels = 3
        for width in widths:
            self.down.append(double_conv(in_channels, width))
            in_channels = width
        self.pool = nn.MaxPool2d(2)
        self.depth_features = nn.ModuleList()
        self.attention = nn.ModuleList()
        if use_depth:
            depth_in = 2
            for level, width in enumerate(depth_widths):
                self.depth_features.append(_conv(depth_in, width))
                self.attention.append(nn.Conv2d(width, 1, 1))
                depth_in = width
        sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8
        self.register_buffer("sobel", torch.stack([sobel, sobel.t()])[:, None])
        self.up, self.merge, in_channels = unet_decoder(widths, in_channels)
        self.head = nn.Conv2d(in_channels, 1, 1)

    def depth_channels(self, depth: torch.Tensor) -> torch.Tensor:
        log_depth = torch.log(depth.clamp(min=0.05))
        log_depth = log_depth - log_depth.mean(dim=(2, 3), keepdim=True)
        gradient = nn.functional.conv2d(nn.functional.pad(log_depth, [1, 1, 1, 1], mode="replicate"), self.sobel)
        return torch.cat([log_depth, torch.sqrt((gradient * gradient).sum(1, keepdim=True) + 1e-6)], 1)

    def attention_maps(self, depth: torch.Tensor) -> list[torch.Tensor]:
        """The weights ``a`` of levels 1 to 4 (half to 1/16 of the input size); empty without depth."""
        maps: list[torch.Tensor] = []
        if not self.use_depth:
            return maps
        d = self.depth_channels(depth)
        for features, attention in zip(self.depth_features, self.attention):
            d = features(self.pool(d))
            maps.append(torch.sigmoid(attention(d)))
        return maps

    def forward(self, image: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        maps = self.attention_maps(depth)
        skips: list[torch.Tensor] = []
        x = image
        for index, block in enumerate(self.down):
            if index > 0:
                x = self.pool(x)
            x = block(x)
            if index > 0 and index - 1 < len(maps):
                x = x * (1 + maps[index - 1])
            skips.append(x)
        skips.pop()
        for up, merge in zip(self.up, self.merge):
            x = up(x)
            x = merge(torch.cat([x, skips.pop()], dim=1))
        return self.head(x)
