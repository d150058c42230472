"""Filled shapes as boolean masks, with numpy alone (the phantoms must run inside
Slicer, whose Python has numpy but not necessarily scikit-image)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def ellipse_mask(shape: tuple[int, int], centre_rc: Sequence[float], radii_rc: Sequence[float],
                 rotation: float = 0.0) -> np.ndarray:
    """Pixels inside an ellipse; centre and radii in (row, column) pixels, rotation in radians."""
    rows, columns = np.ogrid[: shape[0], : shape[1]]
    dr, dc = rows - centre_rc[0], columns - centre_rc[1]
    cos, sin = math.cos(rotation), math.sin(rotation)
    along_rows = dr * cos - dc * sin
    along_columns = dr * sin + dc * cos
    return (along_rows / radii_rc[0]) ** 2 + (along_columns / radii_rc[1]) ** 2 <= 1.0


def disk_mask(shape: tuple[int, int], centre_rc: Sequence[float], radius: float) -> np.ndarray:
    return ellipse_mask(shape, centre_rc, (radius, radius))


def polygon_mask(shape: tuple[int, int], vertices_rc: Sequence[Sequence[float]]) -> np.ndarray:
    """Pixels inside a simple polygon (even-odd rule), vertices in (row, column) pixels."""
    rows, columns = np.mgrid[: shape[0], : shape[1]]
    inside = np.zeros(shape, dtype=bool)
    vertices = [tuple(map(float, v)) for v in vertices_rc]
    for (r0, c0), (r1, c1) in zip(vertices, vertices[1:] + vertices[:1]):
        if r0 == r1:
            continue
        crosses = (rows >= min(r0, r1)) & (rows < max(r0, r1))
        column_at_row = c0 + (rows - r0) * (c1 - c0) / (r1 - r0)
        inside ^= crosses & (columns < column_at_row)
    return inside
