"""CT preprocessing: the input onto the networks' canonical axial grids, and intensities scaled.

Bone labels run on a 3 mm grid, fracture detection and classification on a 2 mm grid; both in the
canonical orientation (columns towards the patient's left, rows posterior, slices superior), whatever
the input's own orientation, so the networks always see the body as trained. Intensities are
block-averaged before a coarser grid (anti-aliasing) and sampled through patient space; labels and
boxes map back through the same world coordinates.
"""

from __future__ import annotations

import numpy as np

from ...geometry import ImageGeometry
from ...image import Image
from ..volume_grids import resample_to_canonical

BONE_SPACING_MM = 3.0
DETECT_SPACING_MM = 2.0
CT_DIRECTIONS = ((-1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, 1.0))  # columns: I left, J posterior, K superior
AIR_HU = -1024.0
BONE_MULTIPLE = 8  # the bone U-Net halves three times
DETECT_MULTIPLE = 32  # the detector's deepest level is 1/32


def to_grid(image: Image, spacing: float, multiple: int) -> tuple[np.ndarray, ImageGeometry]:
    """The CT (HU) on the canonical grid of this spacing; air outside the input."""
    return resample_to_canonical(image, spacing, CT_DIRECTIONS, "linear", multiple, AIR_HU)


def network_input(hu: np.ndarray) -> np.ndarray:
    """HU to the networks' scale: air -1, water 0, dense cortex ~1.5, metal clipped at 3."""
    return (np.clip(hu, -1000.0, 3000.0) / 1000.0).astype(np.float32)
