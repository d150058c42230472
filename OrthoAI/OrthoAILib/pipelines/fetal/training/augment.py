"""Augmentation of HC18 stills for the head segmenter and the head-shape classifier.

Geometry: rotation, scale, flip and shift composed with the pipeline's own letterbox map, so the
image and its mask are resampled once, together. Intensity: gain, gamma, blur and multiplicative
speckle, because scanners and presets differ. A few samples are pure speckle with an empty mask,
and strong zooms leave only part of a head (the mask is cropped with it, so the label stays true).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..preprocess import NET_SHAPE, Letterbox, letterbox_matrix, normalise, resample


def random_affine(rng: np.random.Generator, net_shape=NET_SHAPE, max_rotation_deg: float = 30.0,
                  scale_range=(0.8, 1.25), zoom_probability: float = 0.08, max_shift: float = 0.1) -> np.ndarray:
    """A 3×3 map from augmented network (row, col) to letterboxed network (row, col)."""
    angle = np.deg2rad(rng.uniform(-max_rotation_deg, max_rotation_deg))
    scale = rng.uniform(*scale_range) if rng.random() > zoom_probability else rng.uniform(1.6, 2.4)
    flip_r = -1.0 if rng.random() < 0.5 else 1.0
    flip_c = -1.0 if rng.random() < 0.5 else 1.0
    centre = (np.asarray(net_shape, float) - 1) / 2
    shift = rng.uniform(-max_shift, max_shift, 2) * np.asarray(net_shape)
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    linear = np.array([[cos * flip_r, -sin], [sin, cos * flip_c]])
    matrix = np.eye(3)
    matrix[:2, :2] = linear
    matrix[:2, 2] = centre + shift - linear @ centre
    return matrix


def intensity(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    image = np.clip(image / 255.0, 0, 1)
    image = image ** rng.uniform(0.6, 1.6)
    if rng.random() < 0.3:
        image = ndimage.gaussian_filter(image, rng.uniform(0.3, 1.2))
    if rng.random() < 0.5:
        image = image * rng.gamma(8.0, 1 / 8.0, image.shape)
    return (image * rng.uniform(0.6, 1.4) + rng.normal(0, 0.02, image.shape)).astype(np.float32)


def speckle_negative(rng: np.random.Generator, net_shape=NET_SHAPE) -> np.ndarray:
    """Ultrasound-like speckle with smooth structures and no head (label: empty)."""
    field = ndimage.gaussian_filter(rng.normal(size=net_shape), rng.uniform(2, 12))
    field = (field - field.min()) / (np.ptp(field) + 1e-6)
    speckle = ndimage.gaussian_filter(rng.rayleigh(1.0, net_shape), 0.7)
    return (255 * field * speckle / speckle.max() * rng.uniform(0.5, 1.0)).astype(np.float32)


def augmented_pair(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, net_shape=NET_SHAPE,
                   negative_probability: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """One augmented (normalised input, soft mask) pair on the network grid."""
    if rng.random() < negative_probability:
        return normalise(intensity(speckle_negative(rng, net_shape), rng)), np.zeros(net_shape, np.float32)
    box = Letterbox.fit(image.shape, net_shape)
    matrix = letterbox_matrix(box) @ random_affine(rng, net_shape)
    warped = resample(image, matrix, net_shape)
    target = resample(mask.astype(np.float32), matrix, net_shape)
    return normalise(intensity(warped, rng)), target
