"""Monocular depth of a colonoscopy frame, estimated globally and locally and then refined.

The four depth images of the method, all as log-depth (cm) so that the superposition of the global
and the local estimate is a sum (a product in depth):

1. **global** — the whole frame pooled 4× and passed through an encoder-decoder with a 6×6
   bottleneck: the lumen's overall layout (where the far end is, how the wall recedes);
2. **local** — a shallow two-level network at the frame's resolution: a preliminary estimate from
   shading, folds and edges, which sees only a small neighbourhood;
3. **superposition** — global (up-sampled) plus local;
4. **refined** — the superposition corrected by a residual network that sees the frame, the
   superposition and the local features together: the target depth image.

Shapes: input ``B×3×96×96`` RGB (normalised by the pipeline), outputs ``B×1×96×96``. ``forward``
returns the refined depth in centimetres; ``stages`` returns the four log-depth images.
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import double_conv
from .keypoint_refiner import upsample_bilinear

INPUT_SIZE = 96


class GlobalLocalDepthNet(nn.Module):
    def __init__(self, widths: tuple[int, int, int] = (32, 64, 128), local_widths: tuple[int, int] = (16, 32)) -> None:
        super().__init__()
        g1, g2, g3 = widths
        self.global_pool = nn.AvgPool2d(4)
        self.global_down1 = double_conv(3, g1)
        self.global_down2 = double_conv(g1, g2)
        self.global_down3 = double_conv(g2, g3)
        self.global_up2 = nn.ConvTranspose2d(g3, g2, 2, stride=2)
        self.global_merge2 = double_conv(2 * g2, g2)
        self.global_up1 = nn.ConvTranspose2d(g2, g1, 2, stride=2)
        self.global_merge1 = double_conv(2 * g1, g1)
        self.global_head = nn.Conv2d(g1, 1, 1)
        l1, l2 = local_widths
        self.local_down1 = double_conv(3, l1)
        self.local_down2 = double_conv(l1, l2)
        self.local_up = nn.ConvTranspose2d(l2, l1, 2, stride=2)
        self.local_merge = double_conv(2 * l1, l1)
        self.local_head = nn.Conv2d(l1, 1, 1)
        self.refine = nn.Sequential(double_conv(3 + 1 + l1, l1), nn.Conv2d(l1, 1, 3, padding=1))
        self.pool = nn.MaxPool2d(2)

    def stages(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(global, local, superposition, refined) log-depth images, each ``B×1×H×W``."""
        g = self.global_pool(x)
        g1 = self.global_down1(g)
        g2 = self.global_down2(self.pool(g1))
        g3 = self.global_down3(self.pool(g2))
        g = self.global_merge2(torch.cat([self.global_up2(g3), g2], 1))
        g = self.global_merge1(torch.cat([self.global_up1(g), g1], 1))
        global_depth = upsample_bilinear(self.global_head(g), [x.shape[2], x.shape[3]])
        l1 = self.local_down1(x)
        l2 = self.local_down2(self.pool(l1))
        local_features = self.local_merge(torch.cat([self.local_up(l2), l1], 1))
        local_depth = self.local_head(local_features)
        superposition = global_depth + local_depth
        refined = superposition + self.refine(torch.cat([x, superposition, local_features], 1))
        return global_depth, local_depth, superposition, refined

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.stages(x)[3])
