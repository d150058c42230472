"""Reading 3-D volumes (NRRD, NIfTI, MHA, a DICOM series) into an ``Image``, and writing labelmaps.

ITK works in LPS; the ``Image`` geometry is RAS (Slicer's), so the first two
axes of origin and directions are negated on the way in and out. The size is
read from the header first: an implausible volume is refused before its
voxels are allocated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InputError
from ..geometry import ImageGeometry
from ..image import Image, ImageOrigin

VOLUME_FILE_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")
VOLUME_SUFFIXES = VOLUME_FILE_SUFFIXES + (".dcm",)  # what a folder of volumes or DICOM series may hold
MAX_LABELS = 512  # a labelmap of the whole body has ~120; an image has thousands of grey values
MAX_VOXELS = 1024 * 1024 * 1024  # 1 Gi voxels (4 GiB as float32): larger is refused before reading
_LPS = np.diag([-1.0, -1.0, 1.0])


def _geometry_from_itk(image) -> ImageGeometry:
    directions = _LPS @ np.asarray(image.GetDirection(), dtype=float).reshape(3, 3)
    origin = _LPS @ np.asarray(image.GetOrigin(), dtype=float)
    return ImageGeometry(tuple(image.GetSpacing()), tuple(origin), tuple(map(tuple, directions)))


def _reader(paths: Sequence[str]):
    import SimpleITK as sitk

    if len(paths) == 1:
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(paths[0]))
    else:
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames([str(p) for p in paths])
    return reader


def _check_size(paths: Sequence[str], name: str) -> None:
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(paths[0]))
    reader.ReadImageInformation()
    size = list(reader.GetSize()) + [1] * (3 - reader.GetDimension())
    if len(paths) > 1:
        size[2] = len(paths)
    if reader.GetNumberOfComponents() != 1:
        raise InputError(f"{name}: {reader.GetNumberOfComponents()} components per voxel; a greyscale volume is needed.")
    voxels = int(np.prod(size[:3]))
    if voxels > MAX_VOXELS:
        raise InputError(f"{name}: {size[0]}x{size[1]}x{size[2]} voxels is larger than {MAX_VOXELS:,} voxels; "
                         "crop or resample it first.")


def _check_gzip_complete(paths: Sequence[str], name: str) -> None:
    """A gzip-compressed file (``.nii.gz``, ``.nrrd`` with a ``.gz`` data file) cut short still reads
    in ITK, filled with zeros where the data stopped. Read the stream to its end marker first."""
    import gzip
    import zlib

    for path in paths:
        if not str(path).lower().endswith(".gz"):
            continue
        try:
            with gzip.open(path, "rb") as stream:
                while stream.read(16 * 1024 * 1024):
                    pass
        except (EOFError, OSError, zlib.error):
            raise InputError(f"{name}: the compressed file is truncated or damaged ({Path(path).name} ends before its "
                             "data does); copy or export it again.") from None


def read_volume(paths: Sequence[str | Path], name: str = "", modality: str = "") -> Image:
    """One volume file, or the files of one DICOM series (in slice order), as a float32 ``Image``."""
    paths = [str(p) for p in paths]
    name = name or Path(paths[0]).name
    if not paths or not all(Path(p).is_file() for p in paths):
        raise InputError(f"{name}: no such file.")
    import SimpleITK as sitk

    warnings_shown = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)  # ITK prints slice-spacing notes to stderr; not for users
    try:
        _check_size(paths, name)
        _check_gzip_complete(paths, name)
        image = _reader(paths).Execute()
    except RuntimeError as error:
        raise InputError(f"{name} could not be read as a volume ({str(error).strip().splitlines()[-1]}).") from None
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(warnings_shown)

    if image.GetDimension() == 2:
        image = sitk.JoinSeries(image)
    array = sitk.GetArrayFromImage(image).astype(np.float32)  # KJI
    if not np.all(np.isfinite(array)):
        raise InputError(f"{name}: the volume holds NaN or infinite values; fix or remove them first.")
    return Image(array, _geometry_from_itk(image), ImageOrigin(name, modality, "file header", True))


def write_labelmap(path: str | Path, labelmap: np.ndarray, geometry: ImageGeometry) -> Path:
    """A KJI labelmap as NRRD/NIfTI in the geometry it refers to (LPS on disk, as ITK and Slicer expect)."""
    return write_volume(path, np.ascontiguousarray(labelmap, dtype=np.uint8), geometry)


def write_volume(path: str | Path, array: np.ndarray, geometry: ImageGeometry) -> Path:
    """A KJI volume (its own dtype) as NRRD/NIfTI/MHA in the geometry it refers to (LPS on disk)."""
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    image.SetSpacing(geometry.spacing)
    image.SetOrigin(tuple(_LPS @ np.asarray(geometry.origin)))
    image.SetDirection(tuple((_LPS @ np.asarray(geometry.directions)).ravel()))
    sitk.WriteImage(image, str(path), useCompression=True)
    return Path(path)


def read_labelmap(paths: Sequence[str | Path], name: str = "") -> Image:
    """A labelmap file (or DICOM series) as an ``Image`` of whole-number labels (int32)."""
    image = read_volume(paths, name)
    name = image.origin.name
    array = image.array
    if not np.array_equal(array, np.round(array)):
        raise InputError(f"{name} holds fractional values: it is an image, not a labelmap. Give a labelmap of "
                         "whole-number labels (e.g. a -label.nrrd exported from Slicer).")
    distinct = np.unique(array[::max(1, array.size // 2_000_000)])  # a sample is enough to tell an image
    if distinct.size > MAX_LABELS:
        raise InputError(f"{name} has {distinct.size} or more distinct values: it looks like an image, not a labelmap. "
                         "Give a labelmap (one value per structure, e.g. a -label.nrrd exported from Slicer).")
    if array.size and (array.min() < 0 or array.max() > 65535):
        raise InputError(f"{name}: label values run from {array.min():g} to {array.max():g}; labels are 0-65535 "
                         "(0 background).")
    return Image(array.astype(np.int32), image.geometry, image.origin)
