"""One spacing and orientation policy for radiographs, used by the file readers, the bridge
(volume nodes) and the batch, so a film gives the same answer however it arrives.

Pixel spacing, in order of preference:

1. what the user gives — required for PNG/JPEG;
2. DICOM ``PixelSpacing`` (calibrated to the patient plane);
3. DICOM ``ImagerPixelSpacing`` divided by ``EstimatedRadiographicMagnificationFactor``
   (detector plane corrected to the patient plane), or undivided when the factor is
   absent (then lengths include the magnification);
4. the spacing the image carries itself (an NRRD/NIfTI/MHA header, a volume node).

Orientation: the pipeline sees the film in radiological orientation (columns towards
the patient's left). A film whose columns run towards the patient's right — by its
geometry, or by the DICOM ``PatientOrientation`` that ITK-based readers ignore — is
mirrored, and its geometry with it, so points found in the mirrored pixels land
where the film is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import InputError
from ..geometry import ImageGeometry, radiograph_geometry
from ..image import Image, ImageOrigin

USER_SPACING = "given by the user"


@dataclass(frozen=True)
class SpacingChoice:
    spacing_rc: tuple[float, float]  # true (row, column) spacing, mm
    source: str
    calibrated: bool  # False: detector plane, magnified


def positive_spacing(values, where: str) -> tuple[float, float]:
    try:
        spacing = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise InputError(f"{where}: pixel spacing {values!r} is not numeric.") from None
    if len(spacing) != 2 or not all(np.isfinite(spacing)) or min(spacing) <= 0:
        raise InputError(f"{where}: pixel spacing {values!r} must be two positive numbers (mm).")
    return spacing


def dicom_spacing(dataset, where: str) -> Optional[SpacingChoice]:
    """Rules 2 and 3 from a DICOM header; None when it has neither tag."""
    if "PixelSpacing" in dataset:
        return SpacingChoice(positive_spacing(dataset.PixelSpacing, where), "PixelSpacing", True)
    if "ImagerPixelSpacing" in dataset:
        imager = positive_spacing(dataset.ImagerPixelSpacing, where)
        factor = dataset.get("EstimatedRadiographicMagnificationFactor")
        if factor is not None and float(factor) > 0:
            return SpacingChoice((imager[0] / float(factor), imager[1] / float(factor)),
                                 "ImagerPixelSpacing / EstimatedRadiographicMagnificationFactor", True)
        return SpacingChoice(imager, "ImagerPixelSpacing (detector plane, not corrected for magnification)", False)
    return None


def choose_spacing(where: str, *, user_mm: Optional[float] = None, dicom: Optional[SpacingChoice] = None,
                   own: Optional[tuple[float, float]] = None, own_source: str = "",
                   missing: str = "no pixel spacing in the file") -> SpacingChoice:
    """The policy's order: the user's, the DICOM header's, the image's own; else a clear error."""
    if user_mm is not None:
        return SpacingChoice(positive_spacing((user_mm, user_mm), "--spacing"), USER_SPACING, True)
    if dicom is not None:
        return dicom
    if own is not None:
        return SpacingChoice(positive_spacing(own, where), own_source, True)
    raise InputError(f"{where}: {missing}; give the pixel spacing in mm "
                     "(--spacing, or the module's Pixel spacing).")


def columns_towards_patient_right(dataset) -> bool:
    """True when a DICOM ``PatientOrientation`` says the columns run towards the patient's right."""
    orientation = dataset.get("PatientOrientation")
    return bool(orientation) and str(orientation[0]).upper().startswith("R")


def is_mirrored(i_axis_ras_x: float = -1.0, dicom_columns_towards_right: bool = False) -> bool:
    """Whether the columns run towards the patient's right: by the geometry (I axis with RAS x > 0),
    flipped again when a DICOM header says the stored columns run that way."""
    return (i_axis_ras_x > 0) != bool(dicom_columns_towards_right)


def mirror_geometry(geometry: ImageGeometry, columns: int) -> ImageGeometry:
    """The geometry of the same film with its columns reversed: every pixel keeps its world position."""
    directions = np.asarray(geometry.directions, dtype=float).copy()
    origin = np.asarray(geometry.origin) + directions[:, 0] * geometry.spacing[0] * (columns - 1)
    directions[:, 0] *= -1.0
    return ImageGeometry(geometry.spacing, tuple(origin), tuple(map(tuple, directions)))


def radiograph_image(pixels: np.ndarray, spacing: SpacingChoice, name: str, *, mirrored: bool = False,
                     geometry: Optional[ImageGeometry] = None, mm_per_unit: float = 1.0,
                     modality: str = "DX") -> Image:
    """The film as the pipelines see it: float32, dense bright, radiological orientation.

    ``geometry``: where the film is shown (a volume node's); by default the film's own, a coronal
    slice at its true spacing (then ``mm_per_unit`` is 1).
    """
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim != 2:
        raise InputError(f"{name}: expected one 2-D image, got an array of shape {pixels.shape}.")
    if mirrored:
        pixels = pixels[:, ::-1]
    if geometry is None:
        geometry = radiograph_geometry(pixels.shape, spacing.spacing_rc)
    elif mirrored:
        geometry = mirror_geometry(geometry, pixels.shape[1])
    origin = ImageOrigin(name, modality, spacing.source, spacing.calibrated, float(mm_per_unit),
                         "mirrored into radiological orientation" if mirrored else "as stored")
    return Image(np.ascontiguousarray(pixels)[np.newaxis], geometry, origin)
