"""MR-like images synthesised from knee label maps with random contrast (the SynthSeg approach,
Billot et al., Medical Image Analysis 2023): the networks learn anatomy, not one scanner's look.

Every label gets a random mean intensity and texture; bone gets a cortex rim of its own (dark on
most sequences); the background of a real label map (muscle, fat, fluid and air in one value) is split
into random smooth regions so it is not one flat grey. Then a random blur, a thicker slice along a
random axis, a smooth multiplicative bias field, a gamma, and Rician noise; finally the same
percentile normalisation the pipeline applies to real scans (``pipelines/knee/preprocess``).
"""

from __future__ import annotations

import numpy as np

from .knee_anatomy import BONE_VALUES

LABEL_COUNT = 16  # 0-15 of the generator; the real maps use 0-10
CORTEX = LABEL_COUNT  # the synthetic label given to each bone's outer voxel layer


def normalise_intensities(image: np.ndarray, low: float = 0.5, high: float = 99.5) -> np.ndarray:
    """To ~0-1 by the volume's percentiles (robust to a few bright vessels or dark air)."""
    sample = image[::2, ::2, ::2] if image.size > 1_000_000 else image
    lo, hi = np.percentile(sample, [low, high])
    return ((image - lo) / max(hi - lo, 1e-6)).astype(np.float32)


def _smooth_noise(shape, rng: np.random.Generator, coarse: int = 5) -> np.ndarray:
    """A smooth random field of about unit spread (coarse noise upsampled)."""
    from scipy import ndimage

    small = rng.normal(size=tuple(max(2, min(coarse, n)) for n in shape))
    return ndimage.zoom(small, [n / s for n, s in zip(shape, small.shape)], order=3, mode="nearest")[
        tuple(slice(0, n) for n in shape)].astype(np.float32)


def synthesise_mr(labels: np.ndarray, rng: np.random.Generator, split_background: bool = False) -> np.ndarray:
    """A normalised MR-like image (float32, the labels' shape) from a label map (KJI)."""
    from scipy import ndimage

    labels = labels.astype(np.int16)
    if split_background:  # a real map's 0 is all soft tissue: three random regions of it
        field = _smooth_noise(labels.shape, rng, coarse=8)
        thresholds = np.quantile(field, [1 / 3, 2 / 3])
        labels = np.where(labels == 0, LABEL_COUNT + 1 + np.digitize(field, thresholds), labels)
    bone = np.isin(labels, BONE_VALUES)
    labels = np.where(bone & ~ndimage.binary_erosion(bone), CORTEX, labels)
    count = LABEL_COUNT + 4
    means = rng.uniform(0.0, 1.0, count)
    means[0] = rng.uniform(0.0, 0.08)  # air is dark on every sequence
    means[CORTEX] = rng.uniform(0.0, 0.15) if rng.random() < 0.85 else rng.uniform(0, 1)
    spreads = rng.uniform(0.0, 0.08, count)
    texture = ndimage.gaussian_filter(rng.normal(size=labels.shape).astype(np.float32), rng.uniform(0.5, 1.5))
    texture /= max(float(texture.std()), 1e-6)
    image = means[labels] + spreads[labels] * texture
    sigma = np.full(3, rng.uniform(0.2, 0.9))
    if rng.random() < 0.5:  # a thicker slice along one axis
        sigma[rng.integers(3)] += rng.uniform(0.5, 2.0)
    image = ndimage.gaussian_filter(image, sigma)
    image *= np.exp(rng.uniform(0.0, 0.35) * _smooth_noise(image.shape, rng))
    image = np.clip(image, 0, None) ** np.exp(rng.normal(0, 0.3))
    noise = rng.uniform(0.0, 0.05)
    image = np.sqrt((image + rng.normal(0, noise, image.shape)) ** 2 + rng.normal(0, noise, image.shape) ** 2)
    return normalise_intensities(image.astype(np.float32))
