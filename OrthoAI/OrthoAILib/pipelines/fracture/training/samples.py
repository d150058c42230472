"""Training samples cut from the stored cases: crops for the bone U-Net and the detector, and the
augmentation of the classifier's patches; left-right mirroring swaps the sided labels."""

from __future__ import annotations

import numpy as np

from ..bones import BONES, TWIN
from ..patches import AIR, crop
from ..preprocess import network_input

# label -> its mirror (left <-> right), identity for midline bones
MIRROR = np.arange(len(BONES) + 1)
for _value, _twin in TWIN.items():
    MIRROR[_value] = _twin


def jitter_intensity(hu: np.ndarray, rng) -> np.ndarray:
    """A scanner's calibration and noise differ: HU scaled by ±4 %, shifted by ±25, extra noise."""
    out = hu.astype(np.float32) * rng.uniform(0.96, 1.04) + rng.uniform(-25, 25)
    return out + rng.standard_normal(out.shape).astype(np.float32) * rng.uniform(0, 15)


def bone_sample(case: dict, size: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """A crop of the 3 mm grid: 60 % centred on a bone chosen uniformly among those in the case (so
    a scapula is seen as often as the ribs), else anywhere (the pipeline's windows cover everything)."""
    hu, labels = case["ct3"], case["lab3"]
    coarse = labels[::2, ::2, ::2]
    present = [int(v) for v in np.unique(coarse) if v]
    if present and rng.random() < 0.6:
        found = np.argwhere(coarse == present[rng.integers(len(present))]) * 2
        centre = found[rng.integers(len(found))] + rng.integers(-12, 13, 3)
    else:
        centre = np.array([rng.integers(0, n) for n in hu.shape])
    start = centre - size // 2
    x = crop(hu, start, (size,) * 3, AIR)
    y = crop(labels, start, (size,) * 3, 0)
    if rng.random() < 0.5:
        x, y = x[:, :, ::-1], MIRROR[y[:, :, ::-1]]
    return network_input(jitter_intensity(x, rng))[None], np.ascontiguousarray(y).astype(np.int64)


def detector_sample(case: dict, size: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """A crop of the 2 mm grid (centred near a lesion 70 % of the time) and its boxes in the crop."""
    hu, boxes = case["ct2"], case["boxes"].reshape(-1, 6)
    if len(boxes) and rng.random() < 0.7:
        box = boxes[rng.integers(len(boxes))]
        centre = ((box[:3] + box[3:]) / 2).astype(int) + rng.integers(-size // 3, size // 3 + 1, 3)
    else:
        centre = np.array([rng.integers(size // 4, max(size // 4 + 1, n - size // 4)) for n in hu.shape])
    start = centre - size // 2
    x = crop(hu, start, (size,) * 3, AIR)
    shifted = boxes - np.concatenate([start, start]).astype(np.float32)
    centres = (shifted[:, :3] + shifted[:, 3:]) / 2
    inside = np.all((centres >= 0) & (centres <= size - 1), 1)
    shifted = shifted[inside]
    if rng.random() < 0.5:
        x = x[:, :, ::-1]
        shifted = shifted.copy()
        shifted[:, [2, 5]] = size - 1 - shifted[:, [5, 2]]
    return network_input(jitter_intensity(x, rng))[None], shifted


def augment_patch(rng):
    """The classifier's patch augmentation: intensity jitter and a left-right mirror."""
    def augment(x: np.ndarray) -> np.ndarray:
        x = jitter_intensity(x, rng)
        return x[:, :, ::-1] if rng.random() < 0.5 else x
    return augment
