"""The networks of the knee cartilage pipeline.

* :class:`ResidualUNet3D` (stage 1, coarse): a 3-D U-Net whose encoder and decoder stages are residual
  blocks (two 3×3×3 convolutions with instance normalisation and LeakyReLU, plus a 1×1×1 shortcut
  where the width changes). It finds the cartilage region on a 2.8 mm grid; the same network with three
  classes finds the tibia and the fibula there (the bone that says which side of the knee is lateral).
* :class:`ResNetASPP3D` (stage 2, fine): a MedicalNet-style 3-D ResNet encoder (basic residual blocks,
  as MedicalNet's ResNet-10/18; the deeper stages dilated instead of strided, as MedicalNet does for
  segmentation) and an ASPP decoder (parallel atrous convolutions and a global-context branch, joined
  with the encoder's half- and full-resolution features, DeepLabv3+-style). It labels the cropped joint.

Both take ``B×1×D×H×W`` normalised intensities and give ``B×C×D×H×W`` logits. Widths are small for
the CPU; the layout is the method's. Only ops present in torch 2.2 (TorchScript export, ``make compat``).
"""

from __future__ import annotations

from typing import List

import torch
import torch.nn.functional as F
from torch import nn

STAGE2_CLASSES = ("background", "femoral cartilage", "medial tibial cartilage", "lateral tibial cartilage",
                  "patellar cartilage", "femur", "tibia", "patella", "fibula")
COARSE_BONE_CLASSES = ("background", "tibia", "fibula")


def upsample_trilinear(x: torch.Tensor, size: List[int]) -> torch.Tensor:
    """``F.interpolate(x, size, mode="trilinear", align_corners=False)`` as the one operator it runs:
    a scripted ``F.interpolate`` carries every mode of the exporting torch, and lanczos (torch 2.12+)
    makes the file unloadable in Slicer 5.8's torch (see ``keypoint_refiner.upsample_bilinear``)."""
    return torch._C._nn.upsample_trilinear3d(x, size, False, None)


def _norm_act(channels: int) -> List[nn.Module]:
    return [nn.InstanceNorm3d(channels, affine=True), nn.LeakyReLU(0.01, inplace=True)]


class ResidualBlock3D(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(in_channels, out_channels, 3, stride, padding=dilation, dilation=dilation, bias=False)
        self.norm1 = nn.InstanceNorm3d(out_channels, affine=True)
        self.conv2 = nn.Conv3d(out_channels, out_channels, 3, 1, padding=dilation, dilation=dilation, bias=False)
        self.norm2 = nn.InstanceNorm3d(out_channels, affine=True)
        self.shortcut = nn.Identity() if in_channels == out_channels and stride == 1 else nn.Sequential(
            nn.Conv3d(in_channels, out_channels, 1, stride, bias=False), nn.InstanceNorm3d(out_channels, affine=True))
        self.act = nn.LeakyReLU(0.01, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.norm1(self.conv1(x)))
        y = self.norm2(self.conv2(y))
        return self.act(y + self.shortcut(x))


class ResidualUNet3D(nn.Module):
    """Stage 1. Input sides must be multiples of 2^(levels-1)."""

    def __init__(self, widths=(8, 16, 32, 64), classes: int = 2) -> None:
        super().__init__()
        self.down = nn.ModuleList()
        in_channels = 1
        for level, width in enumerate(widths):
            self.down.append(ResidualBlock3D(in_channels, width, stride=1 if level == 0 else 2))
            in_channels = width
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for width, skip in zip(widths[::-1][:-1], widths[::-1][1:]):
            self.up.append(nn.ConvTranspose3d(width, skip, 2, stride=2))
            self.merge.append(ResidualBlock3D(2 * skip, skip))
        self.head = nn.Conv3d(widths[0], classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips: List[torch.Tensor] = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        skips = skips[:-1][::-1]
        for index, (up, merge) in enumerate(zip(self.up, self.merge)):
            x = merge(torch.cat([up(x), skips[index]], dim=1))
        return self.head(x)


class ASPP3D(nn.Module):
    def __init__(self, in_channels: int, channels: int, rates=(1, 2, 4)) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            [nn.Sequential(nn.Conv3d(in_channels, channels, 1, bias=False), *_norm_act(channels))] +
            [nn.Sequential(nn.Conv3d(in_channels, channels, 3, padding=r, dilation=r, bias=False), *_norm_act(channels))
             for r in rates])
        self.context = nn.Sequential(nn.Conv3d(in_channels, channels, 1), nn.LeakyReLU(0.01, inplace=True))
        self.project = nn.Sequential(nn.Conv3d(channels * (len(rates) + 2), channels, 1, bias=False), *_norm_act(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = [branch(x) for branch in self.branches]
        pooled = self.context(F.adaptive_avg_pool3d(x, 1))
        outputs.append(pooled.expand(-1, -1, x.shape[2], x.shape[3], x.shape[4]))
        return self.project(torch.cat(outputs, dim=1))


class ResNetASPP3D(nn.Module):
    """Stage 2. Input sides must be multiples of 4 (two strided stages).

    Full resolution carries only the stem and the last decoder convolution (a CPU cannot afford
    more there); the ResNet's deeper stages run at a quarter, dilated rather than strided further, so
    a 2 mm plate stays a feature and not a sub-voxel."""

    def __init__(self, widths=(8, 16, 32, 48), classes: int = len(STAGE2_CLASSES), aspp_channels: int = 32) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv3d(1, widths[0], 3, padding=1, bias=False), *_norm_act(widths[0]))
        self.layer1 = ResidualBlock3D(widths[0], widths[1], stride=2)
        self.layer2 = ResidualBlock3D(widths[1], widths[2], stride=2)
        self.layer3 = ResidualBlock3D(widths[2], widths[3], dilation=2)
        self.layer4 = ResidualBlock3D(widths[3], widths[3], dilation=4)
        self.aspp = ASPP3D(widths[3], aspp_channels, rates=(2, 4, 8))
        self.decode_half = nn.Sequential(nn.Conv3d(aspp_channels + widths[1], 24, 3, padding=1, bias=False), *_norm_act(24))
        self.decode_full = nn.Sequential(nn.Conv3d(24 + widths[0], 16, 3, padding=1, bias=False), *_norm_act(16))
        self.head = nn.Conv3d(16, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        full = self.stem(x)
        half = self.layer1(full)
        deep = self.layer4(self.layer3(self.layer2(half)))
        context = upsample_trilinear(self.aspp(deep), [half.shape[2], half.shape[3], half.shape[4]])
        y = self.decode_half(torch.cat([context, half], dim=1))
        y = upsample_trilinear(y, [full.shape[2], full.shape[3], full.shape[4]])
        return self.head(self.decode_full(torch.cat([y, full], dim=1)))
