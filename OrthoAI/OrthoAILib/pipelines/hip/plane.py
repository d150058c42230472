"""The image plane that hip landmarks lie in.

Landmarks come as 3-D RAS (or LPS) positions: Slicer places the points of a
radiograph in the plane of its single slice, whatever its orientation. Every
measure is computed from 2-D coordinates in that plane, so rotating, flipping or
re-orienting the image changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ImagePlane:
    centre: np.ndarray  # 3-vector, a point of the plane
    u: np.ndarray  # unit in-plane axis
    v: np.ndarray  # unit in-plane axis, orthogonal to u
    normal: np.ndarray  # unit normal
    out_of_plane_rms: float  # how far the points stray from the plane (input units)

    def to_2d(self, points: np.ndarray) -> np.ndarray:
        offsets = np.asarray(points, dtype=float) - self.centre
        return np.stack([offsets @ self.u, offsets @ self.v], axis=-1)


def fit_image_plane(points: np.ndarray, normal: np.ndarray | None = None) -> ImagePlane:
    """Plane through ``points`` (N×3); its normal is given, or fitted by least squares."""
    points = np.asarray(points, dtype=float)
    centre = points.mean(axis=0)
    offsets = points - centre
    if normal is None:
        # Rows of vt: directions of decreasing spread; the last one is the normal.
        _, _, vt = np.linalg.svd(offsets, full_matrices=False)
        u, v, n = vt[0], vt[1], np.cross(vt[0], vt[1])
    else:
        n = np.asarray(normal, dtype=float)
        n = n / np.linalg.norm(n)
        helper = np.eye(3)[int(np.argmin(np.abs(n)))]
        u = np.cross(n, helper)
        u /= np.linalg.norm(u)
        v = np.cross(n, u)
    rms = float(np.sqrt(np.mean((offsets @ n) ** 2)))
    return ImagePlane(centre, u, v, n, rms)
