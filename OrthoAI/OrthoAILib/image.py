"""The image every pipeline takes: a KJI array, its geometry, and what matters of its origin.

The bridge makes one from a volume node, the readers (``io``) from a file; a
pipeline never needs to know which. Results carry the geometry they refer to,
so the bridge places them where the image is shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .geometry import ImageGeometry


@dataclass(frozen=True)
class ImageOrigin:
    """What a pipeline may need to know about where an image came from (never patient identifiers)."""

    name: str = ""  # file or node name only
    modality: str = ""  # DICOM modality when known: "DX", "CR", "CT", "MR", "US", "ES"; "" unknown
    spacing_source: str = ""  # where the spacing came from: "PixelSpacing", "given by the user", ".nrrd header"…
    spacing_calibrated: bool = True  # False: detector-plane spacing, lengths include radiographic magnification
    mm_per_unit: float = 1.0  # true mm per unit of the geometry (a node shown with a nominal spacing)
    orientation: str = "as stored"  # what was done to the array's axes on the way in


@dataclass(frozen=True)
class Image:
    """``array`` in KJI order (slice, row, column; a 2-D image is one slice); ``geometry`` maps its
    IJK indices to RAS mm where the image is shown. A colour image has a fourth axis of components
    (KJI × 3 for RGB, as Slicer's vector volumes store it)."""

    array: np.ndarray
    geometry: ImageGeometry
    origin: ImageOrigin = ImageOrigin()

    def __post_init__(self) -> None:
        if not isinstance(self.array, np.ndarray) or not (
                self.array.ndim == 3 or (self.array.ndim == 4 and self.array.shape[3] in (3, 4))):
            raise InputError(f"{self.origin.name or 'The image'}: expected a KJI array (3 axes, or 4 with RGB last), "
                             f"got shape {getattr(self.array, 'shape', None)}.")
        if not np.isfinite(self.origin.mm_per_unit) or self.origin.mm_per_unit <= 0:
            raise InputError(f"{self.origin.name or 'The image'}: mm per unit must be positive.")

    @property
    def is_2d(self) -> bool:
        return self.array.shape[0] == 1

    @property
    def is_colour(self) -> bool:
        return self.array.ndim == 4

    @property
    def plane(self) -> np.ndarray:
        """The single slice of a 2-D image (rows × columns, × components for colour)."""
        if not self.is_2d:
            raise InputError(f"{self.origin.name or 'The image'} has {self.array.shape[0]} slices; "
                             "choose a single 2-D image.")
        return self.array[0]

    @property
    def true_spacing_ijk(self) -> tuple[float, float, float]:
        """Spacing in true mm per I, J, K step."""
        return tuple(s * self.origin.mm_per_unit for s in self.geometry.spacing)

    @property
    def pixel_spacing_rc(self) -> tuple[float, float]:
        """True (row, column) spacing of a 2-D image, in mm."""
        spacing = self.true_spacing_ijk
        return (spacing[1], spacing[0])
