"""SSD512 with a VGG16 feature extractor and an FPN, written with torch alone.

Layout as the source method describes (layer numbers L1–L30):

* L1–L17: VGG16 — 3×3 convolutions 64, 64 | pool | 128, 128 | pool | 256 ×3 |
  pool | 512 ×3 | pool | 512 ×3 (here with batch normalisation, so it trains
  from scratch on generated films);
* L18: 3×3 max pooling, stride 1; L19: dilated 3×3 convolution, 1024 filters;
  L20: 1×1 convolution, 1024 filters;
* L21–L30: five extra 1×1 / 3×3 pairs (256/512, 128/256, 128/256, 128/256,
  128/256), each halving the map.

Seven feature maps (L13, L20, L22, L24, L26, L28, L30: 64², 32², 16², 8², 4²,
2², 1² for a 512² input) are merged top-down by a feature pyramid (lateral 1×1
convolutions, nearest upsampling, addition, 3×3 smoothing); on each map,
3×3 convolutions predict class scores and box offsets for prior boxes of
several aspect ratios. ``width`` scales every channel count, so that the
shipped model stays small and trains on a CPU.

Shapes: input ``B×1×512×512``; ``forward`` returns class logits
``B×P×C`` (class 0 is background) and box offsets ``B×P×4`` (SSD encoding
with variances 0.1/0.2) for the ``P`` priors in ``self.priors`` (``P×4``:
centre row, centre column, height, width in input pixels).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
EXTRA_PAIRS = ((256, 512), (128, 256), (128, 256), (128, 256), (128, 256))
FEATURE_SIZES_512 = (64, 32, 16, 8, 4, 2, 1)
PRIOR_SIZES_512 = (20.0, 51.0, 133.0, 215.0, 297.0, 379.0, 461.0)  # SSD512's scales; the first fits small boxes
ASPECT_RATIOS = (1.0, 2.0, 0.5)
CENTRE_VARIANCE = 0.1  # SSD's variances: offsets are divided by them
SIZE_VARIANCE = 0.2


def _conv(in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1, padding: int = 1,
          dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel, stride, padding, dilation, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


def make_priors(image_size: int = 512) -> torch.Tensor:
    """Prior boxes (centre row, centre column, height, width), map by map, cell by cell."""
    priors = []
    for index, cells in enumerate(FEATURE_SIZES_512):
        cells = max(1, round(cells * image_size / 512))
        step = image_size / cells
        size = PRIOR_SIZES_512[index] * image_size / 512
        next_size = (PRIOR_SIZES_512[index + 1] if index + 1 < len(PRIOR_SIZES_512) else 512.0) * image_size / 512
        shapes = [(size * math.sqrt(1 / r), size * math.sqrt(r)) for r in ASPECT_RATIOS]
        shapes.append((math.sqrt(size * next_size),) * 2)
        for row in range(cells):
            for column in range(cells):
                for height, width in shapes:
                    priors.append(((row + 0.5) * step, (column + 0.5) * step, height, width))
    return torch.tensor(priors, dtype=torch.float32)


PRIORS_PER_CELL = len(ASPECT_RATIOS) + 1


class SSD512FPN(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 1, width: float = 0.125, fpn_channels: int = 48,
                 image_size: int = 512) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.image_size = image_size
        scaled = lambda c: max(8, int(round(c * width)))  # noqa: E731

        layers, channels = [], in_channels
        for item in VGG16_LAYOUT:  # L1–L17
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
            else:
                layers.append(_conv(channels, scaled(item)))
                channels = scaled(item)
        self.vgg_to_l13 = nn.Sequential(*layers[:13])  # up to the third 512 convolution block's end (conv4_3)
        self.vgg_rest = nn.Sequential(*layers[13:])
        conv4_channels = scaled(512)
        self.l18_pool = nn.MaxPool2d(3, 1, 1)
        self.l19 = _conv(channels, scaled(1024), 3, padding=6, dilation=6)
        self.l20 = _conv(scaled(1024), scaled(1024), 1, padding=0)
        extras, channels = [], scaled(1024)
        for index, (reduce, expand) in enumerate(EXTRA_PAIRS):  # L21–L30
            last = index == len(EXTRA_PAIRS) - 1
            extras.append(nn.Sequential(_conv(channels, scaled(reduce), 1, padding=0),
                                        # SSD512's last pair: a 4×4 kernel turns the 2×2 map into 1×1
                                        _conv(scaled(reduce), scaled(expand), 4 if last else 3, 1 if last else 2, 1)))
            channels = scaled(expand)
        self.extras = nn.ModuleList(extras)
        map_channels = [conv4_channels, scaled(1024)] + [scaled(e) for _, e in EXTRA_PAIRS]
        self.lateral = nn.ModuleList(nn.Conv2d(c, fpn_channels, 1) for c in map_channels)
        self.smooth = nn.ModuleList(_conv(fpn_channels, fpn_channels) for _ in map_channels)
        self.class_heads = nn.ModuleList(nn.Conv2d(fpn_channels, PRIORS_PER_CELL * num_classes, 3, padding=1)
                                         for _ in map_channels)
        self.box_heads = nn.ModuleList(nn.Conv2d(fpn_channels, PRIORS_PER_CELL * 4, 3, padding=1) for _ in map_channels)
        self.register_buffer("priors", make_priors(image_size))

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        maps = []
        x = self.vgg_to_l13(x)
        maps.append(x)
        x = self.l20(self.l19(self.l18_pool(self.vgg_rest(x))))
        maps.append(x)
        for extra in self.extras:
            x = extra(x)
            maps.append(x)
        laterals: list[torch.Tensor] = []
        for index, lateral in enumerate(self.lateral):
            laterals.append(lateral(maps[index]))
        for index in range(len(laterals) - 2, -1, -1):  # top-down pathway
            laterals[index] = laterals[index] + upsample_nearest(laterals[index + 1], laterals[index].shape[-2:])
        merged: list[torch.Tensor] = []
        for index, smooth in enumerate(self.smooth):
            merged.append(smooth(laterals[index]))
        return merged

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch = x.shape[0]
        features = self.feature_maps(x)
        scores: list[torch.Tensor] = []
        boxes: list[torch.Tensor] = []
        for index, head in enumerate(self.class_heads):
            scores.append(head(features[index]).permute(0, 2, 3, 1).reshape(batch, -1, self.num_classes))
        for index, head in enumerate(self.box_heads):
            boxes.append(head(features[index]).permute(0, 2, 3, 1).reshape(batch, -1, 4))
        return torch.cat(scores, 1), torch.cat(boxes, 1)

    @torch.jit.export
    def keypoints(self, x: torch.Tensor, top_k: int = 4) -> torch.Tensor:
        """``B×(C-1)×3``: per foreground class, the score-weighted centre (row, column) of its
        ``top_k`` best boxes, and the best score."""
        logits, offsets = self.forward(x)
        probabilities = torch.softmax(logits, dim=-1)[:, :, 1:]
        centres = decode_centres(offsets, self.priors)  # B×P×2
        best, index = probabilities.topk(top_k, dim=1)  # B×k×(C-1)
        gathered = torch.gather(centres.unsqueeze(2).expand(-1, -1, best.shape[2], -1), 1,
                                index.unsqueeze(-1).expand(-1, -1, -1, 2))  # B×k×(C-1)×2
        weights = best / best.sum(dim=1, keepdim=True).clamp_min(1e-6)
        location = (gathered * weights.unsqueeze(-1)).sum(dim=1)  # B×(C-1)×2
        return torch.cat([location, best[:, 0, :].unsqueeze(-1)], dim=-1)


def upsample_nearest(x: torch.Tensor, size: list[int]) -> torch.Tensor:
    """``F.interpolate(x, size, mode="nearest")`` for ``B×C×H×W``, as the one operator it runs.

    Scripting ``F.interpolate`` copies its whole body into the model file, with the operators of
    every mode the exporting torch knows; one that torch 2.11 and older lack (lanczos) makes such a file
    unloadable by the older torch of Slicer 5.8. This operator exists in every torch 2.x.
    """
    return torch._C._nn.upsample_nearest2d(x, size, None)


def decode_centres(offsets: torch.Tensor, priors: torch.Tensor, centre_variance: float = CENTRE_VARIANCE) -> torch.Tensor:
    """Box centres (row, column) from SSD offsets."""
    return priors[:, :2] + offsets[..., :2] * centre_variance * priors[:, 2:]


def encode_boxes(boxes: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
    """SSD offsets of ``boxes`` (P×4, centre row/column, height/width) relative to ``priors``."""
    centre = (boxes[:, :2] - priors[:, :2]) / (CENTRE_VARIANCE * priors[:, 2:])
    size = torch.log(boxes[:, 2:] / priors[:, 2:]) / SIZE_VARIANCE
    return torch.cat([centre, size], dim=1)


def box_iou(boxes: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
    """IoU between G boxes and P priors (both centre/size form): G×P."""
    def corners(b):
        return torch.cat([b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2], dim=1)

    a, b = corners(boxes), corners(priors)
    top_left = torch.max(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.min(a[:, None, 2:], b[None, :, 2:])
    intersection = (bottom_right - top_left).clamp(min=0).prod(dim=2)
    area_a = (a[:, 2:] - a[:, :2]).prod(dim=1)
    area_b = (b[:, 2:] - b[:, :2]).prod(dim=1)
    return intersection / (area_a[:, None] + area_b[None, :] - intersection)


def match_priors(boxes: torch.Tensor, labels: torch.Tensor, priors: torch.Tensor,
                 threshold: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """SSD matching: every ground-truth box takes its best prior, then every prior whose
    IoU with a box exceeds ``threshold`` takes that box. Returns per-prior class (0 =
    background) and per-prior box offsets."""
    prior_count = priors.shape[0]
    if boxes.shape[0] == 0:
        return torch.zeros(prior_count, dtype=torch.long), torch.zeros(prior_count, 4)
    overlaps = box_iou(boxes, priors)
    best_box_overlap, best_box = overlaps.max(dim=0)  # per prior
    best_prior = overlaps.argmax(dim=1)  # per box
    best_box_overlap[best_prior] = 2.0  # forced matches win
    best_box[best_prior] = torch.arange(boxes.shape[0])
    classes = labels[best_box].clone()
    classes[best_box_overlap < threshold] = 0
    return classes, encode_boxes(boxes[best_box], priors)


def multibox_loss(logits: torch.Tensor, offsets: torch.Tensor, target_classes: torch.Tensor,
                  target_offsets: torch.Tensor, negatives_per_positive: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy over positives and hard-mined negatives (1:3), smooth L1 on positives' offsets;
    both divided by the number of positives."""
    positive = target_classes > 0
    positives = positive.sum().clamp(min=1)
    location = F.smooth_l1_loss(offsets[positive], target_offsets[positive], reduction="sum") / positives
    per_prior = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target_classes.reshape(-1),
                                reduction="none").reshape(target_classes.shape)
    mining = per_prior.detach().clone()
    mining[positive] = 0.0
    rank = mining.argsort(dim=1, descending=True).argsort(dim=1)
    negative_count = (positive.sum(dim=1, keepdim=True) * negatives_per_positive).clamp(max=positive.shape[1] - 1)
    negative_count = negative_count.clamp(min=negatives_per_positive)  # films with no boxes still learn background
    hard_negative = rank < negative_count
    confidence = per_prior[positive | hard_negative].sum() / positives
    return confidence, location
