"""FCOS in 3-D: training targets per pyramid level, decoding of the head's output into boxes, and
3-D non-maximum suppression. Boxes are ``(k0, j0, i0, k1, j1, i1)`` in continuous voxel coordinates
of the detection grid (voxel centres at integers).

Targets (Tian et al., FCOS, 2019): a location is positive for a true box when it lies inside the box
and within ``CENTRE_RADIUS`` strides of its centre ("centre sampling"), and the box's largest
location-to-face distance falls in the level's range; each location takes the smallest such box.
Boxes smaller than ``MIN_TARGET_VOXELS`` are widened about their centre for the targets only, so a
hairline crack still owns locations on the finest level.
"""

from __future__ import annotations

import numpy as np

STRIDES = (4, 8, 16, 32)
LEVEL_RANGES = ((0.0, 8.0), (8.0, 16.0), (16.0, 32.0), (32.0, 1e6))  # largest centre-to-face distance, voxels
CENTRE_RADIUS = 1.5
MIN_TARGET_VOXELS = 6.0


def level_locations(shape, stride: int) -> np.ndarray:
    """Centres (k, j, i) in input voxels of a level's locations, shape (d, h, w, 3)."""
    axes = [(np.arange(n) + 0.5) * stride - 0.5 for n in shape]
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1).astype(np.float32)


def widened(boxes: np.ndarray, minimum: float = MIN_TARGET_VOXELS) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 6).copy()
    centre = (boxes[:, :3] + boxes[:, 3:]) / 2
    half = np.maximum((boxes[:, 3:] - boxes[:, :3]) / 2, minimum / 2)
    return np.concatenate([centre - half, centre + half], 1)


def fcos_targets(boxes: np.ndarray, input_shape) -> list[dict]:
    """Per level: ``positive`` (bool d×h×w), ``distances`` (6×d×h×w, in strides), ``centreness``."""
    boxes = widened(boxes)
    out = []
    for stride, (low, high) in zip(STRIDES, LEVEL_RANGES):
        shape = tuple(int(n) // stride for n in input_shape)
        points = level_locations(shape, stride)
        positive = np.zeros(shape, bool)
        distances = np.zeros((6,) + shape, np.float32)
        centreness = np.zeros(shape, np.float32)
        best_size = np.full(shape, np.inf, np.float32)
        for box in boxes:
            near = box[:3] - points  # negative inside
            far = points - box[3:]
            d = np.concatenate([-near, -far], -1)  # distances to the six faces (positive inside)
            inside = d.min(-1) > 0
            centre = (box[:3] + box[3:]) / 2
            central = np.all(np.abs(points - centre) < CENTRE_RADIUS * stride, -1)
            reach = d.max(-1)
            size = float(np.prod(box[3:] - box[:3]))
            take = inside & central & (reach > low) & (reach <= high) & (size < best_size)
            if not take.any():
                continue
            best_size[take] = size
            positive |= take
            distances[:, take] = (d[take] / stride).T
            pairs = np.minimum(d[take][:, :3], d[take][:, 3:]) / np.maximum(d[take][:, :3], d[take][:, 3:])
            centreness[take] = np.sqrt(np.prod(np.clip(pairs, 0, 1), -1) ** (2 / 3))
        out.append({"positive": positive, "distances": distances, "centreness": centreness})
    return out


def decode(outputs: list[np.ndarray], score_threshold: float = 0.05, top_k: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Boxes and scores from the head's output per level (each ``8×d×h×w`` for one volume):
    score = sqrt(sigmoid(fracture) · sigmoid(centre-ness))."""
    all_boxes, all_scores = [], []
    for stride, output in zip(STRIDES, outputs):
        score = np.sqrt(_sigmoid(output[0]) * _sigmoid(output[1]))
        keep = score > score_threshold
        if not keep.any():
            continue
        points = level_locations(score.shape, stride)[keep]
        d = output[2:8][:, keep].T * stride
        all_boxes.append(np.concatenate([points - d[:, :3], points + d[:, 3:]], 1))
        all_scores.append(score[keep])
    if not all_boxes:
        return np.zeros((0, 6), np.float32), np.zeros(0, np.float32)
    boxes, scores = np.concatenate(all_boxes), np.concatenate(all_scores)
    order = np.argsort(-scores)[:top_k]
    return boxes[order], scores[order]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    low = np.maximum(box[:3], boxes[:, :3])
    high = np.minimum(box[3:], boxes[:, 3:])
    intersection = np.prod(np.clip(high - low, 0, None), 1)
    volume = lambda b: np.prod(np.clip(b[..., 3:] - b[..., :3], 0, None), -1)  # noqa: E731
    return intersection / np.maximum(volume(box) + volume(boxes) - intersection, 1e-6)


def nms_3d(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.2, max_boxes: int = 50) -> np.ndarray:
    """Indices kept by greedy 3-D non-maximum suppression, highest score first. A box whose centre
    lies inside a kept, higher-scoring box is suppressed too (one fracture, two boxes of different
    sizes from two pyramid levels)."""
    order = np.argsort(-scores)
    kept: list[int] = []
    for index in order:
        if len(kept) >= max_boxes:
            break
        if kept:
            others = boxes[kept]
            centre = (boxes[index, :3] + boxes[index, 3:]) / 2
            inside = np.all((centre >= others[:, :3]) & (centre <= others[:, 3:]), 1)
            if np.any(box_iou(boxes[index], others) > iou_threshold) or inside.any():
                continue
        kept.append(int(index))
    return np.array(kept, dtype=int)
