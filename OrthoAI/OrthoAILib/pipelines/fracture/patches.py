"""Patches of a volume: a crop that may run past its edges, and the classifier's input round a finding."""

from __future__ import annotations

import numpy as np

from .preprocess import AIR_HU, network_input

AIR = int(AIR_HU)


def crop(volume: np.ndarray, start, size, fill) -> np.ndarray:
    """``volume[start:start+size]`` per axis, padded with ``fill`` where it runs outside."""
    out = np.full(size, fill, dtype=volume.dtype)
    src = tuple(slice(max(s, 0), min(s + n, d)) for s, n, d in zip(start, size, volume.shape))
    dst = tuple(slice(a.start - s, a.stop - s) for a, s in zip(src, start))
    out[dst] = volume[src]
    return out


PATCH = 32


def lesion_patch(hu: np.ndarray, centre, augment=None) -> np.ndarray:
    """The classifier's input: a 32³ patch (64 mm at 2 mm) of the detection grid round ``centre``."""
    start = np.round(np.asarray(centre)).astype(int) - PATCH // 2
    x = crop(hu, start, (PATCH,) * 3, AIR).astype(np.float32)
    if augment is not None:
        x = augment(x)
    return network_input(x)[None]
