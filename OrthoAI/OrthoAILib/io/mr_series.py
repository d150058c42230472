"""MR volumes from files, including multi-echo DICOM series (T2 mapping: several echoes per slice
position in one series).

A multi-echo series is split by echo number (or echo time); each echo is read as its own volume and
the echoes are combined by root sum of squares, the combination with the best signal-to-noise ratio
(a proton-density-like contrast, in which cartilage is well separated from fluid and bone). A file
that is not DICOM is read as one volume.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InputError
from ..image import Image, ImageOrigin
from .volume import read_volume


def _echo_groups(paths: Sequence[str]) -> dict[float, list[str]]:
    import pydicom

    groups: dict[float, list[str]] = defaultdict(list)
    for path in paths:
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:  # noqa: BLE001 - any unreadable header: a truncated or foreign file
            raise InputError(f"{Path(path).name}: not a readable DICOM file (truncated or damaged?); "
                             "remove it from the series or export the series again.") from None
        echo = header.get("EchoNumbers") or header.get("EchoTime") or 0
        groups[float(echo)].append(path)
    return dict(sorted(groups.items()))


def slice_order(paths: list[str], name: str) -> list[str]:
    """The files in slice order; a gap (a missing slice) is refused, not silently stretched over."""
    import pydicom

    def position(path: str) -> float:
        header = pydicom.dcmread(path, stop_before_pixels=True)
        orientation = np.asarray(header.ImageOrientationPatient, dtype=float)
        normal = np.cross(orientation[:3], orientation[3:])
        return float(np.dot(normal, np.asarray(header.ImagePositionPatient, dtype=float)))

    try:
        positions = {path: position(path) for path in paths}
    except (AttributeError, ValueError, TypeError):
        raise InputError(f"{name}: slices without position or orientation; export the series again.") from None
    ordered = sorted(paths, key=positions.get)
    steps = np.diff([positions[p] for p in ordered])
    if steps.size > 1 and (steps.max() - steps.min()) > 0.1 * max(float(np.median(steps)), 1e-6):
        raise InputError(f"{name}: slice positions are unevenly spaced (steps {steps.min():.2f}-{steps.max():.2f} mm): "
                         "a slice is missing; export the whole series again.")
    return ordered


def read_mr(paths: Sequence[str | Path], name: str = "") -> tuple[Image, tuple[str, ...]]:
    """(the MR volume, notes on how it was read). A multi-echo DICOM series is combined (see above)."""
    paths = [str(p) for p in paths]
    name = name or Path(paths[0]).name
    if len(paths) == 1 or not all(Path(p).suffix.lower() in (".dcm", "") for p in paths):
        return read_volume(paths, name, modality="MR"), ()
    groups = _echo_groups(paths)
    if len(groups) == 1:
        return read_volume(slice_order(paths, name), name, modality=_modality(paths[0])), ()
    counts = {len(v) for v in groups.values()}
    if len(counts) != 1:
        raise InputError(f"{name}: the echoes have different numbers of slices ({sorted(counts)}): "
                         "the series is incomplete; export it again.")
    volumes = [read_volume(slice_order(group, name), name, modality=_modality(paths[0])) for group in groups.values()]
    first = volumes[0]
    combined = np.sqrt(np.sum([np.square(v.array.astype(np.float64)) for v in volumes], axis=0)).astype(np.float32)
    origin = ImageOrigin(name, first.origin.modality, first.origin.spacing_source, True)
    note = f"{len(groups)} echoes of {counts.pop()} slices combined by root sum of squares"
    return Image(combined, first.geometry, origin), (note,)


def _modality(path: str) -> str:
    import pydicom

    try:
        return str(pydicom.dcmread(path, stop_before_pixels=True).get("Modality", ""))
    except Exception:  # noqa: BLE001
        return ""
