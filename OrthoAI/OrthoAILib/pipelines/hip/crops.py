"""Crops of the 0.4 mm work image around coarse keypoints, for the refinement stage."""

from __future__ import annotations

import numpy as np

CROP = 96  # crop side in (possibly downsampled) work pixels


def downsample(work: np.ndarray, scale: int) -> np.ndarray:
    if scale == 1:
        return work
    rows, columns = (work.shape[0] // scale) * scale, (work.shape[1] // scale) * scale
    return work[:rows, :columns].reshape(rows // scale, scale, columns // scale, scale).mean(axis=(1, 3))


def crop_work(work: np.ndarray, centre_rc, scale: int, size: int = CROP) -> tuple[np.ndarray, np.ndarray]:
    """A size×size crop of ``work`` (already downsampled by ``scale`` or not) around ``centre_rc``
    (full-resolution work pixels). Returns the crop (float32, 0..1) and the crop's origin in the
    downsampled grid."""
    grid = work if scale == 1 else downsample(work, scale)
    centre = (np.asarray(centre_rc, dtype=float) + 0.5) / scale - 0.5
    origin = np.round(centre - size / 2).astype(int)
    crop = np.zeros((size, size), dtype=np.float32)
    r0, c0 = max(origin[0], 0), max(origin[1], 0)
    r1, c1 = min(origin[0] + size, grid.shape[0]), min(origin[1] + size, grid.shape[1])
    if r1 > r0 and c1 > c0:
        crop[r0 - origin[0]: r1 - origin[0], c0 - origin[1]: c1 - origin[1]] = grid[r0:r1, c0:c1]
    if work.dtype == np.uint8:
        crop /= 255.0
    return crop, origin


def crop_to_work(rc_in_crop, origin, scale: int) -> np.ndarray:
    """Crop pixels -> full-resolution work pixels."""
    return (np.asarray(rc_in_crop, dtype=float) + origin + 0.5) * scale - 0.5


def work_to_crop(rc_work, origin, scale: int) -> np.ndarray:
    return (np.asarray(rc_work, dtype=float) + 0.5) / scale - 0.5 - origin
