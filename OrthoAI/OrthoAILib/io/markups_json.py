"""Read and write Slicer's markups JSON (``.mrk.json``) without Slicer.

The command line reads landmark files that Slicer wrote (LPS, its default
since 4.11) or that other tools wrote (LPS or RAS). Positions are returned in
RAS millimetres keyed by control-point label. Reading never writes to the file;
a file that is not shaped as markups, or holds positions no image can have, is
refused with one line that says what is wrong.
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
MAX_COORDINATE_MM = 1e5  # 100 m: no image reaches that far; such a coordinate is corrupt (1e308 gave 0.0 measures)


def read_markups_points(path: str | Path) -> dict[str, np.ndarray]:
    """Labelled control points of the fiducial markups in ``path``, as RAS mm.

    Points whose position is not defined (not placed yet, or a preview) are
    left out, so that a half-placed set reports them as missing. A file of
    another shape, or a position that is not finite or lies beyond any image
    (``MAX_COORDINATE_MM``), is refused with what is wrong and where.
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
    except (json.JSONDecodeError, RecursionError) as error:
        raise InputError(f"{path} is not valid JSON ({error}); expected Slicer markups (.mrk.json).") from None
    markups = document.get("markups") if isinstance(document, dict) else None
    if not isinstance(markups, list) or not markups:
        raise InputError(f"{path} has no 'markups' list; expected a Slicer markups file (.mrk.json).")
    for index, markup in enumerate(markups, start=1):
        if not isinstance(markup, dict):
            raise InputError(f"{path}: markup #{index} is {_kind(markup)}, not an object; expected a Slicer markups file.")
    fiducials = [m for m in markups if m.get("type") == "Fiducial"] or markups

    points: dict[str, np.ndarray] = {}
    for markup in fiducials:
        system = str(markup.get("coordinateSystem", "LPS")).upper()
        if system not in ("LPS", "RAS"):
            raise InputError(f"{path}: coordinateSystem '{system}' is not supported; use LPS or RAS.")
        unit = str(markup.get("coordinateUnits", "mm"))
        if unit not in _UNIT_TO_MM:
            raise InputError(f"{path}: coordinateUnits '{unit}' is not supported; use mm or um.")
        control_points = markup.get("controlPoints")
        if control_points is None:
            continue
        if not isinstance(control_points, list):
            raise InputError(f"{path}: 'controlPoints' is {_kind(control_points)}; it must be a list of point objects "
                             "(label, position): save the landmarks again from Slicer.")
        for index, control_point in enumerate(control_points, start=1):
            label, coordinates = _control_point(path, index, control_point)
            if coordinates is None:
                continue
            if label in points:
                raise InputError(f"{path}: label '{label}' is used more than once; each landmark must appear once.")
            coordinates = coordinates * _UNIT_TO_MM[unit]
            _check_position(path, label, coordinates, control_point["position"])
            points[label] = lps_to_ras(coordinates) if system == "LPS" else coordinates
    return points


def _kind(value) -> str:
    """What a JSON value is, in the words of JSON."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "true or false", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def _control_point(path: Path, index: int, control_point) -> tuple[str, "np.ndarray | None"]:
    """The label and position of one control point; no position when it is not placed."""
    where = f"{path}: control point #{index}"
    if not isinstance(control_point, dict):
        raise InputError(f"{where} is {_kind(control_point)}, not an object with a label and a position; "
                         "save the landmarks again from Slicer.")
    label = control_point.get("label", "")
    if not isinstance(label, (str, int, float)) or isinstance(label, bool):
        raise InputError(f"{where} has a label that is {_kind(label)}; give each point a name.")
    label = str(label).strip()
    if not label:
        raise InputError(f"{where} has no label; name each point.")
    status = control_point.get("positionStatus", "defined")
    if not isinstance(status, str):
        raise InputError(f"{path}: control point '{label}' has a positionStatus that is {_kind(status)}; "
                         "expected \"defined\", \"preview\" or \"undefined\".")
    if status not in _PLACED or "position" not in control_point:
        return label, None
    position = control_point["position"]
    if not isinstance(position, list) or len(position) != 3:
        raise InputError(f"{path}: control point '{label}' needs a position of three numbers.")
    if any(isinstance(v, (bool, str, list, dict)) for v in position):
        raise InputError(f"{path}: control point '{label}' has a position that is not numeric: {position}")
    return label, np.asarray([math.nan if v is None else float(v) for v in position])


def _check_position(path: Path, label: str, coordinates: np.ndarray, written) -> None:
    """No measure can come from a point at infinity, or kilometres from any image."""
    if not np.all(np.isfinite(coordinates)):
        raise InputError(f"{path}: control point '{label}' has a non-finite position {written}; place it again "
                         "(or mark it unplaced).")
    if np.abs(coordinates).max() > MAX_COORDINATE_MM:
        raise InputError(f"{path}: control point '{label}' is at {written}, more than {MAX_COORDINATE_MM:g} mm "
                         f"({MAX_COORDINATE_MM / 1000:g} m) from the origin, beyond any image: its position is corrupt; "
                         "place it again.")


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
