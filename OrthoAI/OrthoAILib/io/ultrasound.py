"""Reading ultrasound stills (DICOM US, PNG, JPEG, BMP) with the pixel size they carry.

The pixel size of a DICOM ultrasound image is in its ultrasound regions
(``SequenceOfUltrasoundRegions``: physical delta X/Y in cm of a 2-D region); ``PixelSpacing``
is used when a still has no region. A bitmap carries none: the user gives it (``--pixel-size``,
or a CSV of file name and pixel size, as HC18 ships). A still without one is read with a
nominal 1-pixel spacing and marked uncalibrated, so nothing is reported in millimetres.

Colour: ultrasound stills are often stored as RGB; equal channels are one grey channel, and a
still with coloured annotations is read as its luminance (with a warning, because a colour
Doppler box is not a greyscale image). Only pixels and pixel size are read: nothing that names
a patient goes further. Sizes are checked from the header before pixels are decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import InputError
from ..geometry import radiograph_geometry
from ..image import Image, ImageOrigin
from .discovery import file_suffix, has_dicom_magic

BITMAP_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
DICOM_SUFFIXES = (".dcm", ".dicom")
STILL_SUFFIXES = BITMAP_SUFFIXES + DICOM_SUFFIXES
MIN_SIDE, MAX_SIDE, MAX_PIXELS = 64, 8192, 40_000_000
CM_UNITS = 3  # DICOM PhysicalUnitsXDirection: 3 = cm
SUPPORTED = "a DICOM ultrasound image, PNG, JPEG or BMP"


@dataclass(frozen=True)
class Still:
    image: Image
    warnings: tuple[str, ...] = ()


def read_still(path: str | Path, pixel_size_mm: Optional[float] = None, pixel_size_source: str = "given by the user") -> Still:
    """The still in ``path`` as a one-slice :class:`Image`; ``pixel_size_mm`` overrides the file's."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"No such image file: {path}")
    if pixel_size_mm is not None and not (np.isfinite(pixel_size_mm) and 0.005 <= pixel_size_mm <= 5.0):
        raise InputError(f"pixel size {pixel_size_mm} mm is implausible for ultrasound (0.005 to 5 mm per pixel).")
    suffix = file_suffix(path)
    if suffix in BITMAP_SUFFIXES and not has_dicom_magic(path):
        pixels, warnings = _read_bitmap(path)
        spacing, source = None, ""
    else:
        pixels, spacing, source, warnings = _read_dicom(path)
    if pixel_size_mm is not None:
        spacing, source = (pixel_size_mm, pixel_size_mm), pixel_size_source
    calibrated = spacing is not None
    spacing_rc = (spacing[1], spacing[0]) if spacing else (1.0, 1.0)
    origin = ImageOrigin(path.name, "US", source if calibrated else "none", calibrated)
    geometry = radiograph_geometry(pixels.shape, spacing_rc)
    return Still(Image(pixels[np.newaxis].astype(np.float32), geometry, origin), warnings)


def _check_size(rows: int, columns: int, where: str) -> None:
    if min(rows, columns) < MIN_SIDE or max(rows, columns) > MAX_SIDE or rows * columns > MAX_PIXELS:
        raise InputError(f"{where}: {columns}×{rows} pixels is not an ultrasound still this pipeline reads "
                         f"(each side {MIN_SIDE} to {MAX_SIDE} pixels); give the still as the scanner stored it.")


def grey_from_channels(pixels: np.ndarray, where: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """(rows, columns[, channels]) -> grey, with a warning when the channels really differ."""
    if pixels.ndim == 2:
        return pixels, ()
    if pixels.shape[-1] in (2, 4):  # grey + alpha, RGBA: the alpha channel carries no anatomy
        pixels = pixels[..., :-1]
    if pixels.shape[-1] == 1:
        return pixels[..., 0], ()
    channels = pixels.astype(np.float32)
    spread = float(np.abs(channels - channels[..., :1]).max())
    luminance = channels @ np.array([0.299, 0.587, 0.114], np.float32)
    if spread <= 8:  # JPEG rounding of a grey still
        return luminance, ()
    coloured = float(np.mean(np.abs(channels - channels[..., :1]).max(axis=-1) > 8))
    return luminance, (f"colour_converted: {100 * coloured:.1f} % of {where}'s pixels are coloured (annotations or "
                       "a Doppler box?); read as luminance",)


def _read_bitmap(path: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    from PIL import Image as PILImage, UnidentifiedImageError

    try:
        with PILImage.open(path) as picture:
            _check_size(picture.height, picture.width, path.name)
            picture.load()
            pixels = np.asarray(picture.convert("RGB") if picture.mode in ("P", "CMYK", "YCbCr", "LAB", "HSV") else picture)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        detail = " ".join(str(error).split())[:120]
        raise InputError(f"{path.name} cannot be read as an image ({detail}): give {SUPPORTED}.") from None
    if pixels.dtype == bool:
        pixels = pixels.astype(np.uint8) * 255
    return grey_from_channels(pixels, path.name)


def ultrasound_pixel_size(dataset) -> tuple[Optional[tuple[float, float]], str]:
    """((x, y) mm, source) from the largest 2-D ultrasound region in cm, else ``PixelSpacing``."""
    best, best_area = None, -1.0
    for region in dataset.get("SequenceOfUltrasoundRegions", []) or []:
        try:
            units = (int(region.PhysicalUnitsXDirection), int(region.PhysicalUnitsYDirection))
            dx, dy = abs(float(region.PhysicalDeltaX)), abs(float(region.PhysicalDeltaY))
            area = (float(region.RegionLocationMaxX1) - float(region.RegionLocationMinX0)) * \
                   (float(region.RegionLocationMaxY1) - float(region.RegionLocationMinY0))
        except (AttributeError, TypeError, ValueError):
            continue
        if units == (CM_UNITS, CM_UNITS) and dx > 0 and dy > 0 and area > best_area:
            best, best_area = (10.0 * dx, 10.0 * dy), area
    if best is not None:
        return best, "SequenceOfUltrasoundRegions"
    spacing = dataset.get("PixelSpacing")
    if spacing is not None and len(spacing) == 2 and all(float(v) > 0 for v in spacing):
        return (float(spacing[1]), float(spacing[0])), "PixelSpacing"
    return None, ""


def _read_dicom(path: Path) -> tuple[np.ndarray, Optional[tuple[float, float]], str, tuple[str, ...]]:
    from .radiograph_dicom import open_dicom

    dataset = open_dicom(path)
    where = path.name
    modality = str(dataset.get("Modality", "")).upper()
    if modality and modality not in ("US", "OT", "SC"):
        raise InputError(f"{where} is a {modality} image, not ultrasound: the fetal pipeline reads ultrasound stills.")
    if "Rows" not in dataset or "Columns" not in dataset or "PixelData" not in dataset:
        raise InputError(f"{where} holds no image (no pixel data): give the ultrasound still itself.")
    rows, columns = int(dataset.Rows), int(dataset.Columns)
    _check_size(rows, columns, where)
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    warnings: tuple[str, ...] = ()
    try:
        pixels = dataset.pixel_array
    except Exception as error:  # noqa: BLE001  (decoders raise anything on damaged data)
        detail = " ".join(str(error).split())[:160]
        raise InputError(f"{where}: its pixel data cannot be decoded ({detail}); export the still again.") from None
    if frames > 1:
        pixels = pixels[0]
        warnings += (f"multi_frame: {where} is a cine loop of {frames} frames; the first frame was analysed",)
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2"))
    if photometric.startswith("YBR") and pixels.ndim == 3:
        from pydicom.pixels import convert_color_space

        pixels = convert_color_space(pixels, photometric, "RGB")
    pixels, colour_warnings = grey_from_channels(np.asarray(pixels), where)
    if photometric == "MONOCHROME1":
        pixels = pixels.max() - pixels
    spacing, source = ultrasound_pixel_size(dataset)
    return np.asarray(pixels, np.float32), spacing, source, warnings + colour_warnings
