"""Reading radiographs (DICOM DX/CR, NRRD, NIfTI, MHA, PNG, JPEG) and writing DICOM.

Only pixel data, pixel spacing and orientation go further: nothing that
identifies a patient is read into the result, so nothing downstream can write
it out. Spacing, orientation, size and pixel checks follow ``radiograph_policy``
(shared with the bridge); DICOM files are read by ``radiograph_dicom``. Every
reader looks at the header first and refuses an implausible film before its
pixels are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import InputError
from ..image import Image
from .discovery import file_suffix, has_dicom_magic
from .radiograph_dicom import SUPPORTED, read_dicom_radiograph
from .radiograph_policy import (SpacingChoice, check_film_size, choose_spacing, columns_towards_patient_right,
                                check_finite, dicom_spacing, greyscale, is_mirrored, positive_spacing, radiograph_image)
from .volume import VOLUME_FILE_SUFFIXES

DICOM_SUFFIXES = {".dcm", ".dicom", ""}
BITMAP_SUFFIXES = (".png", ".jpg", ".jpeg")


def read_radiograph(path: str | Path, spacing_mm: Optional[float] = None) -> Image:
    """The film in ``path`` as an :class:`Image` (one slice, radiological orientation)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"No such image file: {path}")
    if spacing_mm is not None:
        positive_spacing((spacing_mm, spacing_mm), "--spacing")  # checked before anything is read
    suffix = file_suffix(path)
    if suffix in VOLUME_FILE_SUFFIXES or suffix in BITMAP_SUFFIXES:
        return _read_with_itk(path, suffix, spacing_mm)
    if suffix in DICOM_SUFFIXES or has_dicom_magic(path):
        return read_dicom_radiograph(path, spacing_mm)
    raise InputError(f"{path.name}: unsupported file type '{suffix}'. Use {SUPPORTED}.")


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
    """NRRD, NIfTI, MHA, PNG, JPEG: the header first (size, spacing, channels), the pixels once it is plausible."""
    import SimpleITK as sitk

    where, kind = path.name, suffix.lstrip(".").upper()
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as error:
        raise InputError(f"{where} could not be read as {kind} ({str(error).strip().splitlines()[-1]}).") from None
    size = reader.GetSize()  # (columns, rows[, slices])
    if len(size) < 2 or any(n > 1 for n in size[2:]):
        raise InputError(f"{where}: expected one 2-D image, got an image of size {' x '.join(map(str, size))}.")
    channels = reader.GetNumberOfComponents()
    if channels > 4:
        raise InputError(f"{where}: {channels} values per pixel; a radiograph has one grey value per pixel.")
    bitmap = suffix in BITMAP_SUFFIXES
    if bitmap and spacing_mm is None:
        raise InputError(f"{where}: {kind} files carry no pixel spacing; "
                         "give it in mm (--spacing, or the module's pixel spacing field).")
    spacing = choose_spacing(where, user_mm=spacing_mm, own=reader.GetSpacing()[:2][::-1], own_source=f"{suffix} header")
    check_film_size(where, (size[1], size[0]), spacing)  # before the pixels are read
    try:
        image = reader.Execute()
    except RuntimeError as error:
        raise InputError(f"{where}: its pixels could not be read as {kind} ({str(error).strip().splitlines()[-1]}); "
                         "the file may be damaged.") from None
    pixels = sitk.GetArrayFromImage(image).reshape(size[1], size[0], *((channels,) if channels > 1 else ()))
    if suffix in (".nii", ".nii.gz") and pixels.dtype.kind == "f":
        check_finite(_nifti_values(path), where)  # ITK's NIfTI reader turns NaN and infinity into 0
    # JPEG's rounding may leave the channels of a grey film one level apart.
    pixels = greyscale(pixels, where, tolerance=1 if suffix in (".jpg", ".jpeg") else 0, alpha=channels in (2, 4))
    # ITK directions are LPS: a first axis towards the patient's right (-L) is RAS x > 0.
    mirrored = not bitmap and is_mirrored(i_axis_ras_x=-image.GetDirection()[0])
    return radiograph_image(pixels, spacing, where, mirrored=mirrored)


def _nifti_values(path: Path) -> np.ndarray:
    """A NIfTI file's values as stored (scaled), NaN and infinity kept."""
    import nibabel

    return np.asanyarray(nibabel.load(str(path)).dataobj)


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
