"""An ultrasound still in a volume node, read the way the fetal pipeline takes it.

Scanners store stills as grey or RGB pictures; Slicer loads them as scalar or vector volumes of
one slice. The pixel size follows one policy, the file readers' (``io.ultrasound``): the user's
value; else, for a node read from DICOM, the ultrasound regions of its header (Slicer's reader
often shows such stills at 1 mm, because the size is not in ``PixelSpacing``); a node read from
a PNG, JPEG or BMP has none, and neither has a node shown at exactly 1 mm (Slicer's nominal
spacing when a file carries none: an ultrasound pixel is 0.05 to 0.5 mm), so only shape measures
are given; any other node's own spacing is taken as true.

The image keeps the node's geometry, and its ``mm_per_unit`` scales lengths when the true pixel
size differs from the one shown; a still shown in other proportions than its true pixels (a DICOM
still with non-square ultrasound-region pixels, shown at 1×1 mm) takes the true spacing instead.
Results are placed by pixel through the node's own IJK→RAS either way (``mrml.fetal.scene``), so
they land where the still is shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import slicer

from ...errors import InputError
from ...geometry import ImageGeometry
from ...image import Image, ImageOrigin
from ...io.discovery import file_suffix, has_dicom_magic
from ...io.ultrasound import BITMAP_SUFFIXES, MAX_SIDE, MIN_SIDE, Still, grey_from_channels
from ..volumes import geometry_of

USER_SOURCE = "given by the user"
NODE_SOURCE = "volume spacing"
PIXEL_SIZE_RANGE_MM = (0.005, 5.0)


def still_from_volume(volume_node, pixel_size_mm: Optional[float] = None) -> Image:
    """The still in a single-slice scalar or RGB(A) volume as a grey one-slice ``Image`` (the node is
    not changed); ``pixel_size_mm`` overrides the node's pixel size."""
    return read_still_from_volume(volume_node, pixel_size_mm).image


def read_still_from_volume(volume_node, pixel_size_mm: Optional[float] = None) -> Still:
    """As :func:`still_from_volume`, with the warnings of the grey conversion."""
    if volume_node is None or volume_node.GetImageData() is None:
        name = volume_node.GetName() if volume_node is not None else "None"
        raise InputError(f"Volume '{name}' has no image data; load an ultrasound still first.")
    name = volume_node.GetName()
    if pixel_size_mm is not None and not (np.isfinite(pixel_size_mm)
                                          and PIXEL_SIZE_RANGE_MM[0] <= pixel_size_mm <= PIXEL_SIZE_RANGE_MM[1]):
        raise InputError(f"Pixel size {pixel_size_mm} mm is implausible for ultrasound: give "
                         f"{PIXEL_SIZE_RANGE_MM[0]} to {PIXEL_SIZE_RANGE_MM[1]} mm per pixel.")
    plane, warnings = grey_plane_of(volume_node)
    geometry = geometry_of(volume_node)
    pixel_size, source = _pixel_size(volume_node, pixel_size_mm)
    if pixel_size is None:
        origin = ImageOrigin(name, "US", "none", False)
    else:
        ratios = np.asarray(pixel_size, float) / np.asarray(geometry.spacing[:2], float)
        if abs(ratios[0] - ratios[1]) <= 1e-6 * ratios.mean():
            origin = ImageOrigin(name, "US", source, True, float(ratios.mean()))
        else:  # shown in other proportions than its true pixels: the image takes the true spacing
            geometry = ImageGeometry(pixel_size + (geometry.spacing[2],), geometry.origin, geometry.directions)
            origin = ImageOrigin(name, "US", source, True)
    return Still(Image(np.asarray(plane, np.float32)[np.newaxis], geometry, origin), warnings)


def grey_plane_of(volume_node) -> tuple[np.ndarray, tuple[str, ...]]:
    """The still's grey pixels (rows × columns, a copy) and the warnings of the grey conversion."""
    name = volume_node.GetName()
    pixels = np.array(slicer.util.arrayFromVolume(volume_node), copy=True)  # KJI, + channels for vector volumes
    if pixels.shape[0] != 1:
        raise InputError(f"'{name}' has {pixels.shape[0]} slices (frames); the fetal head analysis measures one "
                         "still. Choose a single-frame image: export the frame to measure from the scanner, or load "
                         "that frame alone.")
    rows, columns = pixels.shape[1:3]
    if min(rows, columns) < MIN_SIDE or max(rows, columns) > MAX_SIDE:
        raise InputError(f"'{name}' is {columns}×{rows} pixels; an ultrasound still has {MIN_SIDE} to {MAX_SIDE} "
                         "pixels per side. Choose the still as the scanner stored it.")
    return grey_from_channels(pixels[0], name)


def _pixel_size(volume_node, user_mm: Optional[float]) -> tuple[Optional[tuple[float, float]], str]:
    """((x, y) mm or None, where it came from): the module policy above."""
    if user_mm is not None:
        return (float(user_mm), float(user_mm)), USER_SOURCE
    path = source_file_of(volume_node)
    if path is not None and path.is_file():
        if has_dicom_magic(path) or file_suffix(path) in (".dcm", ".dicom"):
            from ...io.radiograph_dicom import open_dicom
            from ...io.ultrasound import ultrasound_pixel_size

            pixel_size, source = ultrasound_pixel_size(open_dicom(path))
            return (pixel_size, f"DICOM {source}") if pixel_size else (None, "none")
        if file_suffix(path) in BITMAP_SUFFIXES:
            return None, "none"
    spacing = volume_node.GetSpacing()
    if spacing[0] == 1.0 and spacing[1] == 1.0:  # nominal: the file gave Slicer no pixel size
        return None, "none"
    return (float(spacing[0]), float(spacing[1])), NODE_SOURCE


def source_file_of(volume_node) -> Optional[Path]:
    """The file a volume was read from (its storage node, or the application's DICOM database)."""
    storage = volume_node.GetStorageNode()
    if storage is not None and storage.GetFileName():
        return Path(storage.GetFileName())
    uids = volume_node.GetAttribute("DICOM.instanceUIDs")
    database = getattr(slicer, "dicomDatabase", None)
    if uids and database is not None:
        found = database.fileForInstance(uids.split()[0])
        return Path(found) if found else None
    return None
