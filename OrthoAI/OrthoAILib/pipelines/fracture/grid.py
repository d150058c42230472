"""What the fracture pipeline accepts: a 3-D greyscale CT in Hounsfield units on a plausible grid.

Refusals here are input errors (the command exits 2, the module shows the message); an image that is
3-D and greyscale but not a CT (an MR, a photograph stack) is a *status* the result carries
(``not_ct``), decided by :func:`looks_like_ct`, so a batch lists it like any other case.
"""

from __future__ import annotations

import numpy as np

from ...errors import InputError
from ...image import Image

MIN_SLICES = 8
MIN_SPACING_MM = 0.2
MAX_SPACING_MM = 6.0
MAX_EXTENT_MM = 2500.0  # a whole-body CT is ~2 m long


def check_ct_grid(image: Image) -> tuple[str, ...]:
    """Refuse (``InputError``) what cannot be a CT volume; warnings for what can but is doubtful."""
    name = image.origin.name or "The volume"
    if image.is_colour:
        raise InputError(f"{name}: a colour (RGB) image; CT is one channel of Hounsfield units. "
                         "Load the original DICOM series or a NIfTI/NRRD of the CT.")
    if image.array.shape[0] < MIN_SLICES or min(image.array.shape[1:]) < 16:
        raise InputError(f"{name}: {'x'.join(map(str, image.array.shape[::-1]))} voxels is a 2-D image or a thin slab; "
                         f"a 3-D CT of at least {MIN_SLICES} slices is needed.")
    spacing = np.asarray(image.true_spacing_ijk)
    if spacing.min() < MIN_SPACING_MM or spacing.max() > MAX_SPACING_MM:
        raise InputError(f"{name}: voxels of {' x '.join(f'{s:g}' for s in spacing)} mm are outside "
                         f"{MIN_SPACING_MM:g}-{MAX_SPACING_MM:g} mm; check the header's spacing.")
    extent = spacing * np.array(image.array.shape[::-1])
    if extent.max() > MAX_EXTENT_MM:
        raise InputError(f"{name}: a field of view of {extent.max():.0f} mm is larger than a body; check the spacing.")
    warnings = []
    if np.allclose(spacing, 1.0, atol=1e-9):
        warnings.append("spacing is exactly 1 mm on every axis, which is what readers assume when a header has none: "
                        "if the file lost its spacing, positions and sizes are wrong")
    if spacing[2] > 3.5:
        warnings.append(f"slices {spacing[2]:g} mm apart: thin fractures can fall between slices")
    return tuple(warnings)


def looks_like_ct(array: np.ndarray) -> tuple[bool, str]:
    """Hounsfield units of a body: air or fat well below zero, and bone (or contrast) above 200.
    Returns the verdict and, when it is no, what was seen instead."""
    sample = array[::2, ::4, ::4] if array.size > 4_000_000 else array
    low, high = (float(v) for v in np.percentile(sample, [0.5, 99.9]))
    if low > -300:
        return False, (f"no air or fat (the lowest values are about {low:.0f}); CT in Hounsfield units has air at "
                       "-1000 and fat near -100. This looks like an MR or another modality.")
    if high < 200:
        return False, f"nothing denser than {high:.0f} HU; bone is 200-2000 HU on CT"
    if float(np.min(sample)) < -3100 or float(np.max(sample)) > 40000:
        return False, "values outside any Hounsfield range (rescale slope/intercept missing?)"
    return True, ""
