"""One spacing and orientation policy for radiographs, used by the file readers, the bridge
(volume nodes) and the batch, so a film gives the same answer however it arrives.

Pixel spacing, in order of preference:

1. what the user gives — required for PNG/JPEG;
2. DICOM ``PixelSpacing`` (calibrated to the patient plane);
3. DICOM ``ImagerPixelSpacing`` divided by ``EstimatedRadiographicMagnificationFactor``
   (detector plane corrected to the patient plane), or undivided when the factor is
   absent (then lengths include the magnification);
4. the spacing the image carries itself (an NRRD/NIfTI/MHA header, a volume node).

Size: a film whose physical size (pixels × spacing) is far beyond any AP pelvis film is
refused before its pixels are decoded: the spacing is wrong (``--spacing 1.4`` for 0.14),
and the analysis, which resamples to 0.1 mm, would allocate gigabytes. Between a plausible
film and that hard limit the pipeline warns (``FILM_SIDE_MM``).

Pixels: greyscale only (a colour file whose channels are equal is greyscale stored as
colour, and is taken as such); finite values only (NaN or infinity cannot be measured).

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

FILM_SIDE_MM = (150.0, 600.0)  # an AP pelvis film, each side: outside it the pipeline warns (wrong spacing?)
TYPICAL_FILM_MM = 430.0  # the long side of a 35 x 43 cm film: for suggesting a spacing
ANALYSIS_MM = 0.1  # the finest pixel the hip preprocessing resamples to
MAX_MEGAPIXELS = 100.0  # as stored, or at ANALYSIS_MM: 1 m² of film, twice a long-leg film; beyond it, refused
CONVERT_TO_GREY = "convert it to greyscale (ImageMagick: magick in.png -colorspace Gray out.png)"


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


def check_film_size(where: str, shape_rc: tuple[int, int], spacing: SpacingChoice) -> None:
    """Refuse, from the header alone, a film too large to be one: more than ``MAX_MEGAPIXELS`` as stored
    or at the analysis' 0.1 mm pixels. The message names the size and the spacing that would fit."""
    rows, columns = (int(n) for n in shape_rc)
    if rows * columns > MAX_MEGAPIXELS * 1e6:
        raise InputError(f"{where}: {columns} x {rows} pixels ({rows * columns / 1e6:.0f} megapixels) is too large for "
                         f"one radiograph (at most {MAX_MEGAPIXELS:.0f}); export the single AP pelvis film.")
    height, width = rows * spacing.spacing_rc[0], columns * spacing.spacing_rc[1]
    if height * width / ANALYSIS_MM ** 2 > MAX_MEGAPIXELS * 1e6:
        given = spacing.source if spacing.source == USER_SPACING else f"from {spacing.source}"
        likely = TYPICAL_FILM_MM / max(rows, columns)
        raise InputError(
            f"{where}: with a pixel spacing of {_mm(spacing.spacing_rc)} mm ({given}) this {columns} x {rows}-pixel film "
            f"would be {width / 1000:.2g} x {height / 1000:.2g} m; an AP pelvis film is {FILM_SIDE_MM[0]:.0f}-"
            f"{FILM_SIDE_MM[1]:.0f} mm a side. The spacing is probably wrong: give it in mm per pixel (--spacing, or the "
            f"module's Pixel spacing; about {likely:.2g} for a {TYPICAL_FILM_MM:.0f} mm film).")


def film_size_warning(shape_rc: tuple[int, int], spacing_rc: tuple[float, float]) -> Optional[str]:
    """The soft rule (the hard one is :func:`check_film_size`): a side outside ``FILM_SIDE_MM``."""
    height, width = shape_rc[0] * spacing_rc[0], shape_rc[1] * spacing_rc[1]
    if all(FILM_SIDE_MM[0] <= side <= FILM_SIDE_MM[1] for side in (height, width)):
        return None
    return (f"the film is {width:.0f} mm wide and {height:.0f} mm high with a pixel spacing of {_mm(spacing_rc)} mm; "
            f"an AP pelvis film is {FILM_SIDE_MM[0]:.0f}-{FILM_SIDE_MM[1]:.0f} mm a side: is the pixel spacing right?")


def _mm(spacing_rc) -> str:
    return f"{spacing_rc[0]:g}" if spacing_rc[0] == spacing_rc[1] else f"{spacing_rc[0]:g} x {spacing_rc[1]:g}"


def greyscale(pixels: np.ndarray, where: str, *, tolerance: int = 0, alpha: bool = False) -> np.ndarray:
    """A 2-D film from pixels of shape (rows, columns[, channels]).

    Exported films are often greyscale stored as RGB (or with an opaque alpha channel): equal colour
    channels (within ``tolerance`` grey levels, for JPEG's rounding) are one grey channel. A truly
    coloured image, or one with transparency, is refused with how to convert it.
    """
    pixels = np.asarray(pixels)
    if pixels.ndim != 3:
        return pixels
    if alpha:
        transparency = pixels[..., -1]
        if transparency.min() != transparency.max():
            raise InputError(f"{where}: the image has transparent parts (an alpha channel); a radiograph has none: "
                             "flatten it to greyscale (ImageMagick: magick in.png -alpha off -colorspace Gray out.png).")
        pixels = pixels[..., :-1]
    if pixels.shape[-1] == 1:
        return pixels[..., 0]
    first = pixels[..., 0].astype(np.int32)
    spread = max(int(np.abs(pixels[..., c].astype(np.int32) - first).max()) for c in range(1, pixels.shape[-1]))
    if spread > tolerance:
        raise InputError(f"{where}: a colour image (its colour channels differ by up to {spread} grey levels); "
                         f"a radiograph must be greyscale: {CONVERT_TO_GREY}.")
    return pixels[..., 0] if spread == 0 else pixels.mean(axis=-1, dtype=np.float32)


def check_finite(pixels: np.ndarray, where: str) -> None:
    """NaN or infinite pixels (a float NIfTI, a broken rescale) cannot be measured: say how many."""
    if np.isfinite(pixels).all():
        return
    nan, infinite = int(np.count_nonzero(np.isnan(pixels))), int(np.count_nonzero(np.isinf(pixels)))
    held = " and ".join(([f"NaN values ({_pixels(nan)})"] if nan else []) +
                        ([f"infinite values ({_pixels(infinite)})"] if infinite else []))
    raise InputError(f"{where}: the image holds {held}, which cannot be measured; replace them with the background "
                     "value (or export the film again) and save it.")


def _pixels(count: int) -> str:
    return f"{count} pixel{'' if count == 1 else 's'}"


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
    check_film_size(name, pixels.shape, spacing)  # a volume node's film: before the analysis allocates
    check_finite(pixels, name)
    if mirrored:
        pixels = pixels[:, ::-1]
    if geometry is None:
        geometry = radiograph_geometry(pixels.shape, spacing.spacing_rc)
    elif mirrored:
        geometry = mirror_geometry(geometry, pixels.shape[1])
    origin = ImageOrigin(name, modality, spacing.source, spacing.calibrated, float(mm_per_unit),
                         "mirrored into radiological orientation" if mirrored else "as stored")
    return Image(np.ascontiguousarray(pixels)[np.newaxis], geometry, origin)
