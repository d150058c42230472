"""Building blocks shared by the 2-D networks (the state-dict layout of a block is part of each
shipped model, so a block changes only with a retraining)."""

from __future__ import annotations

from torch import nn


def double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3×3 convolutions, each followed by batch norm and ReLU (the U-Net block)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


def unet_decoder(widths, in_channels: int) -> tuple[nn.ModuleList, nn.ModuleList, int]:
    """A U-Net's decoder for encoder ``widths``: per level a 2× transposed convolution and a
    double_conv merging it with the skip; returns (up, merge, channels out)."""
    up, merge = nn.ModuleList(), nn.ModuleList()
    for width in reversed(widths[:-1]):
        up.append(nn.ConvTranspose2d(in_channels, width, 2, stride=2))
        merge.append(double_conv(2 * width, width))
        in_channels = width
    return up, merge, in_channels
