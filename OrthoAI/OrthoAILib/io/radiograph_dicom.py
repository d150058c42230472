"""Reading a DICOM radiograph: the header first, the pixels only once the header says they can be used.

The header is read with the pixel data deferred (its place and declared length known, its
bytes not read), which decides before anything large is allocated: is this a DICOM image at
all, is the file complete, can its pixel data be decoded here, what is its spacing, and is
the film's size plausible (``radiograph_policy.check_film_size``: a wrong spacing must not
allocate gigabytes). pydicom's own messages speak to programmers ("use force=True"); the
messages here say what is wrong with the file and what to do about it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import InputError
from ..image import Image
from .radiograph_policy import (check_film_size, choose_spacing, columns_towards_patient_right, dicom_spacing,
                                greyscale, is_mirrored, radiograph_image)

SUPPORTED = "DICOM (.dcm), NRRD, NIfTI, MHA, PNG or JPEG"
PIXEL_DATA = 0x7FE00010
PIXEL_TAGS = (0x7FE00008, 0x7FE00009, PIXEL_DATA)  # float, double float, integer pixel data
UNDEFINED_LENGTH = 0xFFFFFFFF
DECODERS = "pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg"
UNCOMPRESSED = "export the film uncompressed (DCMTK: dcmdjpeg in.dcm out.dcm; GDCM: gdcmconv --raw in.dcm out.dcm)"
AGAIN = "copy or export it again"
IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1."  # prefix of the image storage SOP classes (and of some that are not)
NOT_IMAGES = ("1.2.840.10008.5.1.4.1.1.88.", "1.2.840.10008.5.1.4.1.1.104.", "1.2.840.10008.5.1.4.1.1.11.")


def read_dicom_radiograph(path: Path, spacing_mm: Optional[float]) -> Image:
    """The film of a single-frame greyscale (or grey-as-colour) DICOM file."""
    where = path.name
    dataset = open_dicom(path)
    pixels_element = _pixel_element(dataset, path)
    photometric = _check_image_attributes(dataset, where)
    spacing = choose_spacing(where, user_mm=spacing_mm, dicom=dicom_spacing(dataset, where),
                             missing="no PixelSpacing or ImagerPixelSpacing")
    check_film_size(where, (int(dataset.Rows), int(dataset.Columns)), spacing)
    syntax = _transfer_syntax(dataset)
    _check_pixel_data(dataset, pixels_element, syntax, path)
    try:
        pixels = dataset.pixel_array
    except Exception as error:  # noqa: BLE001  (the decoders raise anything; the header was sound)
        detail = " ".join(str(error).split())[:200]
        raise InputError(f"{where}: the pixel data cannot be decoded ({detail}); the file may be damaged: {AGAIN}.") from None
    # Grey stored as colour: JPEG and the YBR-to-RGB conversion may leave the channels one grey level apart.
    rounded = photometric.startswith("YBR") or syntax.is_compressed
    pixels = greyscale(pixels, where, tolerance=1 if rounded else 0).astype(np.float32)
    if pixels.ndim != 2:
        raise InputError(f"{where}: expected one 2-D image, got pixel data of shape {pixels.shape}.")
    slope, intercept = float(dataset.get("RescaleSlope", 1) or 1), float(dataset.get("RescaleIntercept", 0) or 0)
    pixels = pixels * slope + intercept
    if photometric == "MONOCHROME1":
        bits = int(dataset.get("BitsStored", 16))
        pixels = (2 ** bits - 1) * slope + intercept - pixels
    mirrored = is_mirrored(dicom_columns_towards_right=columns_towards_patient_right(dataset))
    return radiograph_image(pixels, spacing, where, mirrored=mirrored, modality=str(dataset.get("Modality", "DX")))


def open_dicom(path: Path):
    """The dataset with its pixel data deferred, or an ``InputError`` that says what the file really is."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    where, size = path.name, os.path.getsize(path)
    if size == 0:
        raise InputError(f"{where} is empty (0 bytes): the copy or export that made it failed; {AGAIN}.")
    with open(path, "rb") as stream:
        head = stream.read(1024)
    standard = head[128:132] == b"DICM"
    if not standard and _looks_like_text(head):
        raise InputError(f"{where} is a text file, not an image: give the film itself ({SUPPORTED}).")
    try:  # a file without the standard preamble may still be a DICOM data set (older exports)
        dataset = pydicom.dcmread(path, defer_size=1024, force=not standard)
    except Exception as error:  # noqa: BLE001  (a damaged header makes the parser raise anything)
        if not standard or isinstance(error, InvalidDicomError):
            raise InputError(_not_dicom(where)) from None
        detail = " ".join(str(error).split())[:160]
        raise InputError(f"{where}: its DICOM header cannot be read ({detail}); the file is damaged: {AGAIN}.") from None
    if not standard and not ("Rows" in dataset and "Columns" in dataset):
        raise InputError(_not_dicom(where))
    _check_complete(dataset, size, where)
    if standard and len(dataset) == 0 and "TransferSyntaxUID" not in getattr(dataset, "file_meta", {}):
        raise InputError(f"{where} has a DICOM marker but no readable header: it is damaged or cut short; {AGAIN}.")
    return dataset


def _not_dicom(where: str) -> str:
    return f"{where} is not a DICOM file (no DICOM header): give the film as {SUPPORTED}, with its format's suffix."


def _looks_like_text(head: bytes) -> bool:
    text = head.decode("utf-8", errors="replace")  # a character cut at the end of ``head`` is one bad one
    return sum(ch.isprintable() and ch != "\ufffd" or ch in "\r\n\t" for ch in text) >= 0.95 * len(text)


def _raw_element(dataset, tag: int):
    """The element as read, its value still deferred when it was."""
    try:
        return dataset.get_item(tag, keep_deferred=True)
    except TypeError:  # pydicom 2 reads a deferred value here: its raw elements are in the dataset's dict
        from pydicom.tag import Tag

        return dataset._dict.get(Tag(tag))  # noqa: SLF001


def _decoder_available(syntax) -> Optional[bool]:
    """Whether a decoder for ``syntax`` is installed; None when pydicom knows no decoder for it at all."""
    try:
        from pydicom.pixels import get_decoder
    except ImportError:  # pydicom 2: pixel data handlers
        from pydicom import config

        handlers = [h for h in config.pixel_data_handlers if h.supports_transfer_syntax(syntax)]
        return any(h.is_available() for h in handlers) if handlers else None
    try:
        return bool(get_decoder(syntax).is_available)
    except (NotImplementedError, ValueError):
        return None


def _check_complete(dataset, size: int, where: str) -> None:
    """A file cut short (an interrupted copy or download): pydicom reads what is there without a word."""
    meta = getattr(dataset, "file_meta", None)
    group_length = meta.get("FileMetaInformationGroupLength") if meta is not None else None
    if group_length is not None and size < 132 + 12 + int(group_length):
        raise InputError(f"{where} is cut short ({size} bytes, inside its DICOM header): {AGAIN}.")
    for tag in dataset.keys():
        element = _raw_element(dataset, tag)
        length, tell = getattr(element, "length", UNDEFINED_LENGTH), getattr(element, "value_tell", None)
        if length == UNDEFINED_LENGTH or tell is None:
            continue
        if tell + length > size:
            inside = "its pixel data" if int(tag) in PIXEL_TAGS else "its header"
            raise InputError(f"{where} is cut short: the file ends {tell + length - size} bytes before the end of "
                             f"{inside} (an interrupted copy or download?): {AGAIN}.")


def _pixel_element(dataset, path: Path):
    """The pixel data element (still deferred), or an error that says why there is none."""
    where = path.name
    for tag in PIXEL_TAGS:
        if tag in dataset:
            return _raw_element(dataset, tag)
    sop = str(dataset.get("SOPClassUID", "") or getattr(getattr(dataset, "file_meta", None), "MediaStorageSOPClassUID", ""))
    if "Rows" in dataset and sop.startswith(IMAGE_STORAGE) and not sop.startswith(NOT_IMAGES):
        raise InputError(f"{where}: its header describes a {dataset.get('Columns', '?')} x {dataset.Rows}-pixel image but "
                         f"the file holds no pixel data (cut short before the image?): {AGAIN}.")
    kind = _sop_name(sop)
    raise InputError(f"{where}: the DICOM file has no image (no pixel data){f': it is a {kind}' if kind else ''}; "
                     "export the radiograph itself.")


def _sop_name(sop: str) -> str:
    from pydicom.uid import UID

    name = UID(sop).name if sop else ""
    return "" if not name or name == sop else name


def _check_image_attributes(dataset, where: str) -> str:
    """Frames, samples, photometric interpretation and size; returns the photometric interpretation."""
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise InputError(f"{where}: multi-frame DICOM ({frames} frames); export the single AP frame.")
    if "Rows" not in dataset or "Columns" not in dataset:
        raise InputError(f"{where}: the header gives no image size (Rows, Columns); the file is damaged: {AGAIN}.")
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2")).upper().strip()
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    grey = photometric in ("MONOCHROME1", "MONOCHROME2")
    colour = photometric in ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420")
    if not (grey or colour):
        raise InputError(f"{where}: PhotometricInterpretation {photometric} is not supported; export the film as "
                         "greyscale (MONOCHROME2).")
    if samples != (1 if grey else 3):
        raise InputError(f"{where}: the header is inconsistent ({samples} samples per pixel with {photometric}); "
                         f"the file is damaged: {AGAIN}.")
    return photometric


def _transfer_syntax(dataset):
    from pydicom.uid import ImplicitVRLittleEndian

    meta = getattr(dataset, "file_meta", None)
    return (meta.get("TransferSyntaxUID") if meta is not None else None) or ImplicitVRLittleEndian


def _check_pixel_data(dataset, element, syntax, path: Path) -> None:
    """Compressed: a decoder must be installed. Uncompressed: as many bytes as rows x columns x samples need."""
    where = path.name
    if syntax.is_compressed or element.length == UNDEFINED_LENGTH:
        available = _decoder_available(syntax)
        if available is None:
            raise InputError(f"{where}: its pixel data is stored as {syntax.name or syntax}, which cannot be decoded "
                             f"here; {UNCOMPRESSED}.")
        if not available:
            raise InputError(f"{where}: its pixel data is compressed ({syntax.name}) and no decoder for it is installed: "
                             f"{DECODERS}, or {UNCOMPRESSED}.")
        return
    if int(element.tag) != PIXEL_DATA:
        return
    bits = int(dataset.get("BitsAllocated", 16) or 16)
    expected = int(dataset.Rows) * int(dataset.Columns) * int(dataset.get("SamplesPerPixel", 1) or 1) * bits // 8
    if element.length < expected:
        raise InputError(f"{where}: its pixel data holds {element.length} bytes where its header needs {expected} "
                         f"({dataset.Columns} x {dataset.Rows} pixels of {bits} bits); the file is damaged: {AGAIN}.")
