"""The head's sub-image for the classifier: a square around the fitted ellipse, turned so that the
ellipse's long axis runs along the crop's rows (the head's shape, not its orientation on the
screen, is what the classifier should see), padded where it leaves the still, resampled to a
fixed size and contrast-enhanced (CLAHE)."""

from __future__ import annotations

import math

import numpy as np

from .ellipse import Ellipse
from .preprocess import normalise, resample

CROP_SIZE = 96
MARGIN = 1.15  # the square's half side over the ellipse's long semi-axis


def crop_matrix(ellipse: Ellipse, size: int = CROP_SIZE, margin: float = MARGIN, rotation_deg: float = 0.0,
                flip: bool = False) -> np.ndarray:
    """3×3 map from crop (row, col) to image (row, col): a square centred on the ellipse with its
    columns along the long axis (``rotation_deg`` and ``flip`` add training jitter)."""
    step = 2 * margin * max(ellipse.semi_axes_px[0], 1.0) / size  # image pixels per crop pixel
    # Crop column direction (0, 1) must map to the long axis, (row, col) = (sin θ, cos θ): turn by -θ.
    turn = math.radians(rotation_deg - ellipse.angle_deg)
    linear = step * np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    if flip:
        linear = linear @ np.diag([1.0, -1.0])
    centre_crop = np.array([(size - 1) / 2.0] * 2)
    centre_image = np.array([ellipse.center_px[1], ellipse.center_px[0]])
    matrix = np.eye(3)
    matrix[:2, :2] = linear
    matrix[:2, 2] = centre_image - linear @ centre_crop
    return matrix


def enhance(crop: np.ndarray) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation, then zero mean and unit spread."""
    from skimage.exposure import equalize_adapthist

    low, high = np.percentile(crop, [1, 99.5])
    scaled = np.clip((crop - low) / max(high - low, 1e-6), 0, 1)
    return normalise(equalize_adapthist(scaled, kernel_size=CROP_SIZE // 4, clip_limit=0.01).astype(np.float32))


def head_crop(plane: np.ndarray, ellipse: Ellipse, **training_jitter) -> tuple[np.ndarray, np.ndarray]:
    """``(enhanced crop, crop-to-image matrix)``."""
    matrix = crop_matrix(ellipse, **training_jitter)
    return enhance(resample(plane, matrix, (CROP_SIZE, CROP_SIZE))), matrix
