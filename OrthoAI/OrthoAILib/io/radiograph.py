"""Reading radiographs (DICOM DX/CR, NRRD, NIfTI, MHA, PNG, JPEG) and writing DICOM.

Only pixel data, pixel spacing and orientation go further: nothing that
identifies a patient is read into the result, so nothing downstream can write
it out. Spacing and orientation follow ``radiograph_policy`` (shared with the
bridge). ``MONOCHROME1`` images are inverted so that dense is bright.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import InputError
from ..image import Image
from .discovery import file_suffix, has_dicom_magic
from .radiograph_policy import (SpacingChoice, choose_spacing, columns_towards_patient_right, dicom_spacing,
                                is_mirrored, positive_spacing, radiograph_image)

DICOM_SUFFIXES = {".dcm", ".dicom", ""}
ITK_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")
BITMAP_SUFFIXES = (".png", ".jpg", ".jpeg")
SUPPORTED = "DICOM (.dcm), NRRD, NIfTI, MHA, PNG or JPEG"


def read_radiograph(path: str | Path, spacing_mm: Optional[float] = None) -> Image:
    """The film in ``path`` as an :class:`Image` (one slice, radiological orientation)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"No such image file: {path}")
    if spacing_mm is not None:
        positive_spacing((spacing_mm, spacing_mm), "--spacing")  # checked before anything is read
    suffix = file_suffix(path)
    if suffix in ITK_SUFFIXES or suffix in BITMAP_SUFFIXES:
        return _read_with_itk(path, suffix, spacing_mm)
    if suffix in DICOM_SUFFIXES or has_dicom_magic(path):
        return _read_dicom(path, spacing_mm)
    raise InputError(f"{path.name}: unsupported file type '{suffix}'. Use {SUPPORTED}.")


def _read_dicom(path: Path, spacing_mm: Optional[float]) -> Image:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        dataset = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, ValueError) as error:
        raise InputError(f"{path.name} is not a readable DICOM file ({error}). Use {SUPPORTED}.") from None
    where = path.name
    if "PixelData" not in dataset:
        raise InputError(f"{where}: the DICOM file has no image (no PixelData).")
    if int(getattr(dataset, "NumberOfFrames", 1) or 1) > 1:
        raise InputError(f"{where}: multi-frame DICOM ({dataset.NumberOfFrames} frames); export the single AP frame.")
    if int(getattr(dataset, "SamplesPerPixel", 1)) != 1:
        raise InputError(f"{where}: colour DICOM ({dataset.get('PhotometricInterpretation', '?')}); a radiograph must be greyscale.")
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise InputError(f"{where}: PhotometricInterpretation {photometric} is not supported; use MONOCHROME1 or 2.")
    spacing = choose_spacing(where, user_mm=spacing_mm, dicom=dicom_spacing(dataset, where),
                             missing="no PixelSpacing or ImagerPixelSpacing")
    try:
        pixels = dataset.pixel_array.astype(np.float32)
    except Exception as error:  # compressed without a decoder, truncated data...
        raise InputError(f"{where}: cannot decode the pixel data ({error}). Save it uncompressed or install a decoder "
                         "(pylibjpeg, gdcm).") from None
    if pixels.ndim != 2:
        raise InputError(f"{where}: expected one 2-D image, got pixel data of shape {pixels.shape}.")
    slope, intercept = float(dataset.get("RescaleSlope", 1) or 1), float(dataset.get("RescaleIntercept", 0) or 0)
    pixels = pixels * slope + intercept
    if photometric == "MONOCHROME1":
        bits = int(dataset.get("BitsStored", 16))
        pixels = (2 ** bits - 1) * slope + intercept - pixels
    mirrored = is_mirrored(dicom_columns_towards_right=columns_towards_patient_right(dataset))
    return radiograph_image(pixels, spacing, path.name, mirrored=mirrored, modality=str(dataset.get("Modality", "DX")))


@dataclass(frozen=True)
class DicomHeader:
    spacing: Optional[SpacingChoice]  # None without spacing tags
    columns_towards_right: bool


def read_dicom_header(path: str | Path) -> Optional[DicomHeader]:
    """Spacing and column direction of a DICOM file (pixel data not read), or None when it is not DICOM."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        dataset = pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError):
        return None
    try:
        spacing = dicom_spacing(dataset, Path(path).name)
    except InputError:
        spacing = None
    return DicomHeader(spacing, columns_towards_patient_right(dataset))


def _read_with_itk(path: Path, suffix: str, spacing_mm: Optional[float]) -> Image:
    import SimpleITK as sitk

    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as error:
        raise InputError(f"{path.name} could not be read as {suffix.lstrip('.').upper()} "
                         f"({str(error).strip().splitlines()[-1]}).") from None
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"{path.name}: colour image ({image.GetNumberOfComponentsPerPixel()} channels); "
                         "a radiograph must be greyscale.")
    pixels = sitk.GetArrayFromImage(image).astype(np.float32)
    if pixels.ndim == 3 and pixels.shape[0] == 1:
        pixels = pixels[0]
    if pixels.ndim != 2:
        raise InputError(f"{path.name}: expected one 2-D image, got an array of shape {pixels.shape}.")
    bitmap = suffix in BITMAP_SUFFIXES
    if bitmap and spacing_mm is None:
        raise InputError(f"{path.name}: {suffix.lstrip('.').upper()} files carry no pixel spacing; "
                         "give it in mm (--spacing, or the module's pixel spacing field).")
    spacing = choose_spacing(path.name, user_mm=spacing_mm, own=image.GetSpacing()[:2][::-1],
                             own_source=f"{suffix} header")
    # ITK directions are LPS: a first axis towards the patient's right (-L) is RAS x > 0.
    mirrored = not bitmap and is_mirrored(i_axis_ras_x=-image.GetDirection()[0])
    return radiograph_image(pixels, spacing, path.name, mirrored=mirrored)


def write_radiograph_dicom(path: str | Path, image: np.ndarray, spacing_mm: float, *,
                           photometric: str = "MONOCHROME2", bits_stored: int = 16,
                           spacing_tag: str = "PixelSpacing", magnification: Optional[float] = None,
                           extra: Optional[dict] = None) -> Path:
    """A single-frame DX DICOM file (explicit VR little endian) holding ``image`` (dense bright; 8- or 16-bit).

    ``extra``: further top-level attributes by keyword (tests use it to add identifiers
    that must never reach OrthoAI's outputs).
    """
    import datetime

    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError("image must be 2-D")
    maximum = 2 ** bits_stored - 1
    stored_type = np.uint8 if bits_stored <= 8 else np.uint16
    pixels = np.clip(image.astype(np.int64), 0, maximum).astype(stored_type)
    if photometric == "MONOCHROME1":
        pixels = (maximum - pixels).astype(stored_type)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    dataset.SOPClassUID = meta.MediaStorageSOPClassUID
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.StudyInstanceUID, dataset.SeriesInstanceUID = generate_uid(), generate_uid()
    dataset.Modality = "DX"
    dataset.ContentDate = datetime.date.today().strftime("%Y%m%d")
    dataset.BodyPartExamined = "PELVIS"
    dataset.ViewPosition = "AP"
    dataset.PatientOrientation = ["L", "F"]
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = photometric
    dataset.Rows, dataset.Columns = pixels.shape
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 8 * stored_type().itemsize, bits_stored, bits_stored - 1
    dataset.PixelRepresentation = 0
    setattr(dataset, spacing_tag, [f"{spacing_mm:.6g}", f"{spacing_mm:.6g}"])
    if magnification is not None:
        dataset.EstimatedRadiographicMagnificationFactor = f"{magnification:.6g}"
    for keyword, value in (extra or {}).items():
        setattr(dataset, keyword, value)
    dataset.PixelData = pixels.tobytes()
    dataset.save_as(str(path), enforce_file_format=True)
    return Path(path)
