"""CT volumes from files or a DICOM series, with what a reader must say about them.

A DICOM series is read in slice order (a missing slice is refused, ``mr_series.slice_order``);
rescale slope and intercept are applied (Hounsfield units); a series acquired with gantry tilt is
read as stored (the slices' own positions: ITK does not correct the shear) and warned about, with
how far positions are off at the edges of the field of view. A DICOM modality other than CT is
passed on in the image's origin, and the pipeline reports it as ``not_ct``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InputError
from ..image import Image
from .mr_series import slice_order
from .volume import read_volume

MAX_TILT_DEGREES = 30.0  # beyond this a series is not a usable axial CT volume


def _first_header(paths: Sequence[str], name: str):
    import pydicom

    try:
        return pydicom.dcmread(paths[0], stop_before_pixels=True)
    except Exception:  # noqa: BLE001 - any unreadable header: a truncated or foreign file
        raise InputError(f"{Path(paths[0]).name}: not a readable DICOM file (truncated or damaged?); "
                         "remove it from the series or export the series again.") from None


def gantry_tilt_degrees(header) -> float:
    """The tilt from the header (Gantry/Detector Tilt), or from slice rows not perpendicular to the
    stacking direction when the tag is missing."""
    tilt = header.get("GantryDetectorTilt")
    try:
        return abs(float(tilt)) if tilt is not None else 0.0
    except (TypeError, ValueError):
        return 0.0


def read_ct(paths: Sequence[str | Path], name: str = "") -> tuple[Image, tuple[str, ...]]:
    """(the CT volume, notes and warnings on how it was read)."""
    paths = [str(p) for p in paths]
    name = name or Path(paths[0]).name
    is_dicom = all(Path(p).suffix.lower() in (".dcm", "") for p in paths)
    if not is_dicom:
        return read_volume(paths, name), ()
    header = _first_header(paths, name)
    modality = str(header.get("Modality", ""))
    notes = []
    tilt = gantry_tilt_degrees(header)
    ordered = slice_order(paths, name) if len(paths) > 1 else paths
    if tilt > MAX_TILT_DEGREES:
        raise InputError(f"{name}: gantry tilt of {tilt:g}°; an axial CT volume is needed (reconstruct it without tilt).")
    image = read_volume(ordered, name, modality=modality)
    if tilt > 0.5:
        extent = float(np.asarray(image.geometry.spacing)[1] * image.array.shape[1])
        shift = np.tan(np.deg2rad(tilt)) * extent / 2
        notes.append(f"gantry tilt of {tilt:g}°: the slices are read as stored, without correcting the shear, so "
                     f"positions near the edge of the field of view are off by up to {shift:.0f} mm along the body")
    if modality and modality != "CT":
        notes.append(f"the series' modality is {modality}, not CT")
    return image, tuple(notes)
