"""Knee MR preprocessing: resampling onto the networks' canonical grids and back, bias-field
correction (N4), denoising and intensity normalisation.

The networks were trained on sagittal grids in one orientation (columns posterior, rows inferior,
slices towards the patient's right: the OAI DESS layout). Any input, whatever its acquisition plane,
is resampled into that orientation in patient space, so the networks always see the knee as trained;
the labels are resampled back onto the input's own grid through the same world coordinates.
"""

from __future__ import annotations

import numpy as np

from ...geometry import ImageGeometry
from ...image import Image
from ..volume_grids import antialiased_crop, binned, corners_ras, pad_to_multiple, resample, to_sitk
from ..volume_grids import canonical_grid as _canonical_grid
from ..volume_grids import resample_to_canonical as _resample_to_canonical

__all__ = ["antialiased_crop", "binned", "canonical_grid", "corners_ras", "denoise", "n4_log_bias", "pad_to_multiple",
           "resample", "resample_to_canonical", "to_sitk", "FINE_SPACING_MM", "STAGE1_FACTOR", "CANONICAL_DIRECTIONS"]

FINE_SPACING_MM = 0.7  # stage 2 (the DESS slice thickness)
STAGE1_FACTOR = 4  # stage 1 runs on a grid this many times coarser (2.8 mm)
CANONICAL_DIRECTIONS = ((0.0, 0.0, 1.0), (-1.0, 0.0, 0.0), (0.0, -1.0, 0.0))  # columns: I posterior, J inferior, K right


def canonical_grid(low_ras: np.ndarray, high_ras: np.ndarray, spacing: float, multiple: int = 1) -> tuple[tuple, ImageGeometry]:
    """The knee's canonical grid covering the RAS box ``low``-``high``."""
    return _canonical_grid(low_ras, high_ras, spacing, CANONICAL_DIRECTIONS, multiple)


def resample_to_canonical(image: Image, spacing: float, interpolation: str = "linear",
                          multiple: int = 1) -> tuple[np.ndarray, ImageGeometry]:
    """The whole image on the knee's canonical grid of this spacing."""
    return _resample_to_canonical(image, spacing, CANONICAL_DIRECTIONS, interpolation, multiple)


def n4_log_bias(array: np.ndarray, geometry: ImageGeometry) -> np.ndarray:
    """N4's log bias field (Tustison et al., IEEE TMI 2010) of a coarse image, inside an Otsu mask."""
    import SimpleITK as sitk

    image = to_sitk(np.maximum(array, 0).astype(np.float32) + 1e-3, geometry)
    mask = sitk.OtsuThreshold(image, 0, 1, 200)
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetMaximumNumberOfIterations([20, 20, 10])
    corrector.Execute(image, mask)
    return sitk.GetArrayFromImage(corrector.GetLogBiasFieldAsImage(image)).astype(np.float32)


def denoise(array: np.ndarray, geometry: ImageGeometry) -> np.ndarray:
    """Edge-preserving smoothing (curvature flow, 3 iterations): thin cartilage keeps its edges."""
    import SimpleITK as sitk

    smoothed = sitk.CurvatureFlow(to_sitk(array.astype(np.float32), geometry), timeStep=0.0625, numberOfIterations=3)
    return sitk.GetArrayFromImage(smoothed)
