"""Read and write Slicer's markups JSON (``.mrk.json``) without Slicer.

The command line reads landmark files that Slicer wrote (LPS, its default
since 4.11) or that other tools wrote (LPS or RAS). Positions are returned in
RAS millimetres keyed by control-point label. Reading never writes to the file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..errors import InputError
from ..geometry import lps_to_ras, ras_to_lps

MARKUPS_SCHEMA = (
    "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/"
    "Resources/Schema/markups-schema-v1.0.3.json#"
)
_UNIT_TO_MM = {"mm": 1.0, "um": 1e-3}
_PLACED = {"defined"}


def read_markups_points(path: str | Path) -> dict[str, np.ndarray]:
    """Labelled control points of the fiducial markups in ``path``, as RAS mm.

    Points whose position is not defined (not placed yet, or a preview) are
    left out, so that a half-placed set reports them as missing.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"No such markups file: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"Cannot read markups file {path}: {error}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{path} is not valid JSON ({error}); expected Slicer markups (.mrk.json).") from None
    markups = document.get("markups") if isinstance(document, dict) else None
    if not isinstance(markups, list) or not markups:
        raise InputError(f"{path} has no 'markups' list; expected a Slicer markups file (.mrk.json).")
    fiducials = [m for m in markups if isinstance(m, dict) and m.get("type") == "Fiducial"] or \
        [m for m in markups if isinstance(m, dict)]

    points: dict[str, np.ndarray] = {}
    for markup in fiducials:
        system = str(markup.get("coordinateSystem", "LPS")).upper()
        if system not in ("LPS", "RAS"):
            raise InputError(f"{path}: coordinateSystem '{system}' is not supported; use LPS or RAS.")
        unit = str(markup.get("coordinateUnits", "mm"))
        if unit not in _UNIT_TO_MM:
            raise InputError(f"{path}: coordinateUnits '{unit}' is not supported; use mm or um.")
        for index, control_point in enumerate(markup.get("controlPoints") or []):
            label = str(control_point.get("label", "")).strip()
            if not label:
                raise InputError(f"{path}: control point #{index + 1} has no label; name each point.")
            if control_point.get("positionStatus", "defined") not in _PLACED or "position" not in control_point:
                continue
            if label in points:
                raise InputError(f"{path}: label '{label}' is used more than once; each landmark must appear once.")
            position = control_point["position"]
            if not isinstance(position, list) or len(position) != 3:
                raise InputError(f"{path}: control point '{label}' needs a position of three numbers.")
            try:
                values = [float(v) if v is not None else math.nan for v in position]
            except (TypeError, ValueError):
                raise InputError(f"{path}: control point '{label}' has a position that is not numeric: {position}") from None
            coordinates = np.asarray(values) * _UNIT_TO_MM[unit]
            points[label] = lps_to_ras(coordinates) if system == "LPS" else coordinates
    return points


def write_markups_points(points: Mapping[str, Sequence[float]], path: str | Path,
                         coordinate_system: str = "LPS", name: str = "Landmarks") -> Path:
    """Write RAS points as a Slicer fiducial markups file (in LPS by default, as Slicer does)."""
    system = coordinate_system.upper()
    if system not in ("LPS", "RAS"):
        raise ValueError("coordinate_system must be 'LPS' or 'RAS'")
    control_points = []
    for index, (label, ras) in enumerate(points.items(), start=1):
        ras = np.asarray(ras, dtype=float)
        position = ras_to_lps(ras) if system == "LPS" else ras
        control_points.append({
            "id": str(index),
            "label": label,
            "position": [float(v) for v in position],
            "positionStatus": "defined",
        })
    document = {
        "@schema": MARKUPS_SCHEMA,
        "markups": [{
            "type": "Fiducial",
            "name": name,
            "coordinateSystem": system,
            "coordinateUnits": "mm",
            "controlPoints": control_points,
        }],
    }
    path = Path(path)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path
