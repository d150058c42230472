"""What a knee volume's grid must be for cartilage to be measured, checked before any work.

Cartilage is 1.5-4 mm thick: voxels coarser than 2 mm across the plates, or a slice eight times
thicker than the in-plane pixel (the 1:8 the pipeline accepts), cannot resolve it. A spacing of
exactly 1 mm on every axis is what readers assume when a header has none, so it is flagged.
"""

from __future__ import annotations

import numpy as np

from ...errors import InputError
from ...image import Image

MIN_SPACING_MM = 0.05
MAX_IN_PLANE_MM = 2.0
MAX_ANISOTROPY = 8.0
COARSE_ANISOTROPY = 3.0
MIN_SLICES = 8


def check_knee_grid(image: Image, what: str = "volume") -> tuple[str, ...]:
    """Refuse a grid cartilage cannot be measured on (``InputError`` saying why); warnings otherwise."""
    name = image.origin.name or f"The {what}"
    if image.is_colour:
        raise InputError(f"{name}: a colour (RGB) image; a greyscale MR {what} is needed "
                         "(convert it to one channel, or load the original DICOM series).")
    if image.array.shape[0] < MIN_SLICES or min(image.array.shape[1:]) < MIN_SLICES:
        raise InputError(f"{name}: {'x'.join(map(str, image.array.shape[::-1]))} voxels is a 2-D image or a thin slab; "
                         f"a 3-D knee {what} (at least {MIN_SLICES} slices) is needed.")
    spacing = np.asarray(image.true_spacing_ijk)
    if spacing.min() < MIN_SPACING_MM:
        raise InputError(f"{name}: a voxel of {spacing.min():g} mm is implausible for a knee MR; check the header's spacing.")
    if np.sort(spacing)[1] > MAX_IN_PLANE_MM:
        raise InputError(f"{name}: voxels of {' x '.join(f'{s:g}' for s in spacing)} mm are too coarse to resolve "
                         f"cartilage (1.5-4 mm thick); at most {MAX_IN_PLANE_MM:g} mm in-plane is needed.")
    anisotropy = spacing.max() / spacing.min()
    if anisotropy > MAX_ANISOTROPY:
        raise InputError(f"{name}: slices {anisotropy:.1f} times thicker than the pixels ({' x '.join(f'{s:g}' for s in spacing)} mm); "
                         f"cartilage thickness needs at most 1:{MAX_ANISOTROPY:g}. Use a thinner-slice (3-D) sequence.")
    warnings = []
    if np.allclose(spacing, 1.0, atol=1e-9):
        warnings.append("spacing is exactly 1 mm on every axis, which is what readers assume when a header has none: "
                        "if the file lost its spacing, volumes and thicknesses are wrong")
    if anisotropy > COARSE_ANISOTROPY:
        warnings.append(f"slices {anisotropy:.1f} times thicker than the pixels: thickness across the slices is "
                        "coarse (partial volume); compare only with scans of the same protocol")
    return tuple(warnings)
