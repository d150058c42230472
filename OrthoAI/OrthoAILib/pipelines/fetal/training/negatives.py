"""Stills without a fetal head, made from HC18 validation stills, for calibrating the refusal.

* ``background``: a window of a still away from the head, enlarged to a full still (real tissue
  and speckle, no skull);
* ``erased``: the still with its head replaced by tissue copied from elsewhere in the same still;
* ``speckle``: smooth structures under multiplicative speckle.

The 19 real other-plane images in ``../shared/data/fetal_planes`` are kept for checking, never
for calibrating.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

KINDS = ("background", "erased", "speckle")


def background(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """A head-free window (a quarter of the still's size) enlarged to the still's size."""
    rows, cols = image.shape
    height, width = rows // 4, cols // 4
    distance = ndimage.distance_transform_edt(~ndimage.binary_dilation(mask, iterations=10))
    for _ in range(30):
        r, c = int(rng.integers(0, rows - height)), int(rng.integers(0, cols - width))
        if distance[r:r + height, c:c + width].min() > 0 and image[r:r + height, c:c + width].mean() > 10:
            window = image[r:r + height, c:c + width].astype(np.float32)
            return ndimage.zoom(window, (rows / height, cols / width), order=1)[:rows, :cols]
    return None


def erased(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """The head (and a margin) filled with tissue from a shifted copy of the still; None when the
    head is too large for a head-free copy (a smooth fill would leave an ellipse-shaped patch, which
    is a head's outline and no honest negative)."""
    region = ndimage.binary_dilation(mask, iterations=25)
    out = image.astype(np.float32).copy()
    rows, cols = image.shape
    for _ in range(20):
        shift = (int(rng.integers(-rows // 2, rows // 2)), int(rng.integers(-cols // 2, cols // 2)))
        moved_region = np.roll(region, shift, axis=(0, 1))
        if not (moved_region & region).any():
            source = np.roll(image.astype(np.float32), (-shift[0], -shift[1]), axis=(0, 1))
            out[region] = source[region]
            return out
    return None


def speckle(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    from .augment import speckle_negative

    return ndimage.zoom(speckle_negative(rng, (shape[0] // 3, shape[1] // 3)), 3, order=1)[:shape[0], :shape[1]]


def make_negative(image: np.ndarray, mask: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray | None:
    if kind == "background":
        return background(image, mask, rng)
    if kind == "erased":
        return erased(image, mask, rng)
    return speckle(image.shape, rng)
