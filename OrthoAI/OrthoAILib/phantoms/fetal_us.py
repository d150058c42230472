"""Synthetic fetal-head ultrasound stills, and DICOM ultrasound files made from them.

They let users and tests run the scanner → listener → server flow without patient data. A still
is drawn as a convex probe shows it: a fan-shaped sector (black outside), tissue echoes that fade
with depth, multiplicative speckle stretched across the beam, and, with a head, anechoic fluid
around a bright elliptical skull section with a midline echo (the falx) along its long axis.
They are not anatomy and carry no claim of looking like any scanner's images.

Coordinates follow the fetal pipeline: ``(x, y) = (column, row)`` in pixels; the returned ellipse
is the centre line of the skull ring.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Optional

import numpy as np
from scipy import ndimage

from ..pipelines.fetal.ellipse import Ellipse

STILL_SHAPE = (540, 800)  # rows, columns: the size of an HC18 still
US_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.6.1"
PHANTOM_PATIENT = "PHANTOM^FETAL"
CM_UNITS = 3  # PhysicalUnitsX/YDirection: 3 = cm


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Smooth noise in [0, 1], made on a coarse grid and zoomed (a wide Gaussian on the full grid is slow)."""
    step = max(1, int(sigma // 3))
    coarse = ndimage.gaussian_filter(rng.normal(size=(shape[0] // step + 2, shape[1] // step + 2)), sigma / step)
    field = ndimage.zoom(coarse, step, order=1)[: shape[0], : shape[1]]
    return (field - field.min()) / max(float(np.ptp(field)), 1e-6)


def _sector(shape: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(inside the fan, depth from the probe face in rows)`` of a convex probe at the top."""
    rows, cols = shape
    r, c = np.mgrid[0:rows, 0:cols].astype(np.float32)
    apex_r, apex_c = -0.15 * rows, cols / 2 + rng.uniform(-0.02, 0.02) * cols
    radius = np.hypot(r - apex_r, c - apex_c)
    angle = np.arctan2(c - apex_c, r - apex_r)
    half_angle = rng.uniform(0.6, 0.75)
    inner = 0.2 * rows
    inside = (np.abs(angle) < half_angle) & (radius > inner) & (radius < rows * 1.12)
    return inside, radius - inner


def _head_ellipse(shape: tuple[int, int], rng: np.random.Generator) -> Ellipse:
    """A head inside the fan: semi-major axis 20–32 % of the shorter side, cephalic index 72–88."""
    rows, cols = shape
    a = rng.uniform(0.2, 0.32) * min(rows, cols)
    cx = cols / 2 + rng.uniform(-0.08, 0.08) * cols
    cy = rows * rng.uniform(0.5, 0.58)
    a = min(a, cy - 0.25 * rows, 0.95 * rows - cy, cx - 0.12 * cols, 0.88 * cols - cx)  # the skull stays in the fan
    b = a * rng.uniform(0.72, 0.88)
    return Ellipse((float(cx), float(cy)), (float(a), float(b)), float(rng.uniform(0, 180)))


def _elliptic_coordinates(shape: tuple[int, int], ellipse: Ellipse) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(normalised radius ρ, u along the major axis, v along the minor axis)`` of every pixel."""
    r, c = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    angle = math.radians(ellipse.angle_deg)
    dx, dy = c - ellipse.center_px[0], r - ellipse.center_px[1]
    u = dx * math.cos(angle) + dy * math.sin(angle)
    v = -dx * math.sin(angle) + dy * math.cos(angle)
    a, b = ellipse.semi_axes_px
    return np.sqrt((u / a) ** 2 + (v / b) ** 2), u, v


def make_fetal_still(seed: int, head: bool = True, shape: tuple[int, int] = STILL_SHAPE
                     ) -> tuple[np.ndarray, Optional[Ellipse], float]:
    """``(uint8 still rows × columns, skull ellipse or None, pixel size in mm)`` drawn from ``seed``.

    Without a head the sector holds tissue and speckle only (a still the pipeline should refuse).
    """
    rng = np.random.default_rng(seed)
    rows, cols = shape
    inside, depth = _sector(shape, rng)
    echo = 0.35 + 0.4 * _smooth_field(rng, shape, sigma=max(rows, cols) / 30)
    echo *= np.exp(-depth / rows * rng.uniform(0.3, 0.8))  # attenuation with depth, partly compensated
    ellipse = None
    if head:
        ellipse = _head_ellipse(shape, rng)
        rho, u, v = _elliptic_coordinates(shape, ellipse)
        a, b = ellipse.semi_axes_px
        thickness = max(1.5, 0.035 * math.sqrt(a * b))
        distance = (rho - 1.0) * math.sqrt(a * b)  # ≈ pixels from the skull's centre line
        fluid = np.clip((1.3 - rho) / 0.15, 0, 1)  # anechoic amniotic fluid around the head
        echo = echo * (1 - 0.85 * fluid)
        brain = (rho < 1.0) * (0.12 + 0.1 * _smooth_field(rng, shape, sigma=max(a, 4) / 6))
        echo = np.where(rho < 1.0, brain, echo)
        # The skull echoes brightest where the beam meets it at right angles (above and below the brain).
        theta = math.radians(ellipse.angle_deg)
        normal_u, normal_v = u / a ** 2, v / b ** 2  # the ring's normal in the ellipse's frame
        normal_y = normal_u * math.sin(theta) + normal_v * math.cos(theta)
        incidence = np.abs(normal_y) / np.maximum(np.hypot(normal_u, normal_v), 1e-9)
        echo += (0.4 + 0.6 * incidence) * np.exp(-(distance / thickness) ** 2)
        falx = np.exp(-(v / max(1.0, thickness * 0.5)) ** 2) * (np.abs(u) < 0.85 * a) * (rho < 0.95)
        echo += 0.35 * falx * (_smooth_field(rng, shape, sigma=max(a, 4) / 5) > 0.3)
    speckle = ndimage.gaussian_filter(rng.rayleigh(1.0, shape), sigma=(1.0, 2.0))
    image = echo * speckle / float(np.mean(speckle))
    image = np.log1p(6 * np.clip(image, 0, None)) / math.log1p(6 * 1.6)  # log compression, as scanners display
    image = np.where(inside, np.clip(image, 0, 1), 0.0)
    pixels = np.round(image * 255).astype(np.uint8)
    pixel_size = float(rng.uniform(0.1, 0.25)) * (STILL_SHAPE[1] / cols)  # a smaller still shows the same field
    return pixels, ellipse, pixel_size


def write_us_dicom(path: str | Path, pixels: np.ndarray, pixel_size_mm: float, modality: str = "US",
                   patient_name: str = PHANTOM_PATIENT, patient_id: str = "PHANTOM-0001",
                   sop_class_uid: str = US_IMAGE_STORAGE, study_uid: Optional[str] = None,
                   series_uid: Optional[str] = None, **attributes) -> Path:
    """A DICOM ultrasound image file of ``pixels`` (uint8 grey, or rows × columns × 3 RGB).

    The pixel size is given as a scanner gives it: one ultrasound region (``SequenceOfUltrasoundRegions``)
    over the whole still, physical deltas in cm. ``attributes`` are further elements by keyword
    (``InstitutionName="..."``), e.g. identifiers that de-identification must remove.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    pixels = np.ascontiguousarray(pixels, np.uint8)
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] != 3):
        raise ValueError(f"pixels of shape {pixels.shape}: give rows × columns, or rows × columns × 3")
    now = dt.datetime.now()
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = patient_name, patient_id, "", "F"
    ds.StudyDate = ds.ContentDate = now.strftime("%Y%m%d")
    ds.StudyTime = ds.ContentTime = now.strftime("%H%M%S")
    ds.ReferringPhysicianName, ds.StudyID, ds.AccessionNumber = "", "1", ""
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = modality, 1, 1
    ds.Manufacturer = "OrthoAI phantom"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "ABDOMINAL"]
    ds.PatientOrientation = ""
    ds.ConversionType = "WSD"  # used when the SOP class is Secondary Capture
    ds.BurnedInAnnotation = "NO"
    ds.Rows, ds.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    ds.SamplesPerPixel = 3 if pixels.ndim == 3 else 1
    ds.PhotometricInterpretation = "RGB" if pixels.ndim == 3 else "MONOCHROME2"
    if pixels.ndim == 3:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.LossyImageCompression = "00"
    region = Dataset()
    region.RegionSpatialFormat, region.RegionDataType, region.RegionFlags = 1, 1, 0  # 2-D tissue
    region.RegionLocationMinX0, region.RegionLocationMinY0 = 0, 0
    region.RegionLocationMaxX1, region.RegionLocationMaxY1 = ds.Columns - 1, ds.Rows - 1
    region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = CM_UNITS
    region.PhysicalDeltaX = region.PhysicalDeltaY = float(pixel_size_mm) / 10.0
    ds.SequenceOfUltrasoundRegions = [region]
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    ds.PixelData = pixels.tobytes()
    path = Path(path)
    ds.save_as(path, enforce_file_format=True)
    return path
