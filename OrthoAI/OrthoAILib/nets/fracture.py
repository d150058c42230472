"""The networks of the CT fracture pipeline (bone labels use ``knee_cartilage.ResidualUNet3D``).

* :class:`FCOS3D`: an anchor-free 3-D detector (FCOS, Tian et al., ICCV 2019, in 3-D). Backbone: a
  3-D ResNet-50 layout (bottleneck blocks 3-4-6-3, expansion 4) with narrow widths for the CPU; a
  feature pyramid over its last four stages (strides 4, 8, 16, 32); one head shared by all levels
  giving per location a fracture logit, a centre-ness logit and the distances to the six box faces
  (in strides, through ``exp`` with a learnt scale per level).
* :class:`FractureClassifier`: a 3-D ResNet-34 layout (basic blocks 3-4-6-3) on a patch round a
  finding; the features of its last three stages each go through multi-head self-attention over
  their voxels, are average-pooled, joined and classified by a fully connected head (five classes).

Only ops present in torch 2.2 (``make compat``).
"""

from __future__ import annotations

from typing import List, Tuple

import torch
from torch import nn

from .knee_cartilage import upsample_trilinear

DETECTOR_STRIDES = (4, 8, 16, 32)


def _norm_act(channels: int) -> List[nn.Module]:
    return [nn.InstanceNorm3d(channels, affine=True), nn.LeakyReLU(0.01, inplace=True)]


class Bottleneck3D(nn.Module):
    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.body = nn.Sequential(
            nn.Conv3d(in_channels, width, 1, bias=False), *_norm_act(width),
            nn.Conv3d(width, width, 3, stride, padding=1, bias=False), *_norm_act(width),
            nn.Conv3d(width, out_channels, 1, bias=False), nn.InstanceNorm3d(out_channels, affine=True))
        self.shortcut = nn.Identity() if in_channels == out_channels and stride == 1 else nn.Sequential(
            nn.Conv3d(in_channels, out_channels, 1, stride, bias=False), nn.InstanceNorm3d(out_channels, affine=True))
        self.act = nn.LeakyReLU(0.01, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class Basic3D(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv3d(in_channels, out_channels, 3, stride, padding=1, bias=False), *_norm_act(out_channels),
            nn.Conv3d(out_channels, out_channels, 3, 1, padding=1, bias=False), nn.InstanceNorm3d(out_channels, affine=True))
        self.shortcut = nn.Identity() if in_channels == out_channels and stride == 1 else nn.Sequential(
            nn.Conv3d(in_channels, out_channels, 1, stride, bias=False), nn.InstanceNorm3d(out_channels, affine=True))
        self.act = nn.LeakyReLU(0.01, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


def _stage(block, in_channels: int, width: int, count: int, stride: int) -> tuple[nn.Sequential, int]:
    layers = []
    for index in range(count):
        layers.append(block(in_channels, width, stride if index == 0 else 1))
        in_channels = width * getattr(block, "expansion", 1)
    return nn.Sequential(*layers), in_channels


class ResNet50Backbone3D(nn.Module):
    """Stem (stride 2) and four bottleneck stages 3-4-6-3 (strides 4, 8, 16, 32)."""

    def __init__(self, in_channels: int = 1, stem: int = 16, widths=(8, 16, 32, 48)) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv3d(in_channels, stem, 3, 2, padding=1, bias=False), *_norm_act(stem))
        self.layer1, c1 = _stage(Bottleneck3D, stem, widths[0], 3, 2)
        self.layer2, c2 = _stage(Bottleneck3D, c1, widths[1], 4, 2)
        self.layer3, c3 = _stage(Bottleneck3D, c2, widths[2], 6, 2)
        self.layer4, c4 = _stage(Bottleneck3D, c3, widths[3], 3, 2)
        self.out_channels = [c1, c2, c3, c4]

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        c1 = self.layer1(self.stem(x))
        c2 = self.layer2(c1)
        c3 = self.layer3(c2)
        return c1, c2, c3, self.layer4(c3)


class Scale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class FCOS3D(nn.Module):
    """Input ``B×1×D×H×W`` (sides multiples of 32); output per level ``B×8×d×h×w``: fracture logit,
    centre-ness logit, six face distances in strides (positive)."""

    def __init__(self, fpn_channels: int = 32, widths=(8, 16, 32, 48)) -> None:
        super().__init__()
        self.backbone = ResNet50Backbone3D(widths=widths)
        self.lateral = nn.ModuleList([nn.Conv3d(c, fpn_channels, 1) for c in self.backbone.out_channels])
        self.smooth = nn.ModuleList([nn.Conv3d(fpn_channels, fpn_channels, 3, padding=1) for _ in self.backbone.out_channels])
        self.tower = nn.Sequential(nn.Conv3d(fpn_channels, fpn_channels, 3, padding=1, bias=False), *_norm_act(fpn_channels),
                                   nn.Conv3d(fpn_channels, fpn_channels, 3, padding=1, bias=False), *_norm_act(fpn_channels))
        self.classify = nn.Conv3d(fpn_channels, 2, 3, padding=1)  # fracture, centre-ness
        self.regress = nn.Conv3d(fpn_channels, 6, 3, padding=1)
        self.scales = nn.ModuleList([Scale() for _ in self.backbone.out_channels])
        nn.init.constant_(self.classify.bias, 0.0)
        with torch.no_grad():
            self.classify.bias[0] = -4.6  # prior 1 % (focal loss start, as FCOS/RetinaNet)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        features = self.backbone(x)
        laterals: List[torch.Tensor] = []
        for index, conv in enumerate(self.lateral):
            laterals.append(conv(features[index]))
        merged: List[torch.Tensor] = [laterals[3]]
        for index in [2, 1, 0]:
            size = [laterals[index].shape[2], laterals[index].shape[3], laterals[index].shape[4]]
            merged.insert(0, laterals[index] + upsample_trilinear(merged[0], size))
        outputs: List[torch.Tensor] = []
        for index, (smooth, scale) in enumerate(zip(self.smooth, self.scales)):
            y = self.tower(smooth(merged[index]))
            distances = torch.exp(torch.clamp(scale(self.regress(y)), -6.0, 6.0))
            outputs.append(torch.cat([self.classify(y), distances], dim=1))
        return outputs


class TokenAttention(nn.Module):
    """Multi-head self-attention over the voxels of a feature map (with a residual), then the mean."""

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(channels, heads, batch_first=True)
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.flatten(2).transpose(1, 2)  # B × N × C
        attended, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        return self.norm(tokens + attended).mean(dim=1)


class FractureClassifier(nn.Module):
    """Input ``B×1×32×32×32`` (a 64 mm patch at 2 mm round the finding); output class logits."""

    def __init__(self, classes: int = 5, widths=(12, 24, 32, 48), heads: int = 4) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv3d(1, widths[0], 3, 2, padding=1, bias=False), *_norm_act(widths[0]))
        self.first, channels = _stage(Basic3D, widths[0], widths[0], 3, 1)
        stages = []
        for width, count in zip(widths[1:], (4, 6, 3)):
            stage, channels = _stage(Basic3D, channels, width, count, 2)
            stages.append(stage)
        self.stages = nn.ModuleList(stages)
        self.attend = nn.ModuleList([TokenAttention(w, heads) for w in widths[1:]])
        self.head = nn.Sequential(nn.Linear(sum(widths[1:]), 64), nn.LeakyReLU(0.01, inplace=True), nn.Dropout(0.2),
                                  nn.Linear(64, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.first(self.stem(x))
        pooled: List[torch.Tensor] = []
        for stage, attend in zip(self.stages, self.attend):
            x = stage(x)
            pooled.append(attend(x))  # 8³, 4³ and 2³ tokens
        return self.head(torch.cat(pooled, dim=1))
