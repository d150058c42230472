"""Cup angle, bone coverage and rotation-centre offsets from the nine keypoints.

All measures are taken in the image plane (see ``plane.py``) and do not depend
on how the image is rotated or flipped:

* ``abduction_deg`` (β): acute angle between the cup diameter b–j and the
  inter-ischial line g–h.
* ``coverage_pct``: α is the angle between the rays c→b and c→a (the arc of
  the cup not covered by bone); coverage = (180 − α) / 180 × 100. Rays, not
  lines, keep it right when coverage falls under 50 %.
* ``rc_vertical_offset_mm`` (d0 = h1 − h0): heights of the cup centre c and
  of the contralateral centre d above the teardrop line e–f, "above" meaning
  away from the ischia.
* ``rc_horizontal_offset_mm`` (d1 = L1 − L0): distances of c and d from the
  pelvic midline, the line through the symphysis i perpendicular to e–f.

Lengths are in the units of the input points (mm in Slicer). A radiograph
magnifies by 10–20 %; when the true cup diameter is known, every length is
scaled by true diameter / measured |b − j|. Angles and coverage do not change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ...errors import InputError
from .landmarks import LANDMARK_NAMES
from .plane import ImagePlane, fit_image_plane

# Two landmarks closer than this (input units, mm) are taken as one point.
COINCIDENCE_TOLERANCE_MM = 1e-3
# Points straying further than this from their common plane get a warning.
COPLANARITY_WARNING_MM = 0.5


@dataclass(frozen=True)
class MeasureSpec:
    """A measure's name, unit and normal range; values outside get a risk flag."""

    key: str
    label: str
    unit: str
    low: float | None
    high: float | None
    low_flag: str | None = None
    high_flag: str | None = None
    is_length: bool = False

    @property
    def normal_range_text(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{self.low:g} to {self.high:g} {self.unit}"
        if self.low is not None:
            return f"above {self.low:g} {self.unit}"
        return f"below {self.high:g} {self.unit}"

    def flag(self, value: float) -> str:
        if self.low is not None and value < self.low:
            return self.low_flag or "low"
        if self.high is not None and value > self.high:
            return self.high_flag or "high"
        return "normal"


MEASURE_SPECS: tuple[MeasureSpec, ...] = (
    MeasureSpec("abduction_deg", "Cup abduction angle", "deg", 30.0, 50.0, "too_low", "too_high"),
    MeasureSpec("coverage_pct", "Cup bone coverage", "%", 70.0, None, "insufficient", None),
    MeasureSpec("rc_vertical_offset_mm", "Rotation centre vertical offset", "mm", -6.0, 6.0,
                "too_low", "too_high", is_length=True),
    MeasureSpec("rc_horizontal_offset_mm", "Rotation centre horizontal offset", "mm", -5.0, 5.0,
                "too_medial", "too_lateral", is_length=True),
)
MEASURE_KEYS: tuple[str, ...] = tuple(spec.key for spec in MEASURE_SPECS)


@dataclass(frozen=True)
class HipMeasures:
    abduction_deg: float
    coverage_pct: float
    rc_vertical_offset_mm: float
    rc_horizontal_offset_mm: float
    calibrated: bool
    length_scale: float  # factor from point units to reported mm (1.0 for mm points, not calibrated)
    cup_diameter_measured_mm: float  # |b − j| as measured on the film, before scaling
    cup_center: np.ndarray = field(repr=False)  # c, in the input's 3-D coordinates
    warnings: tuple[str, ...] = ()

    def value(self, key: str) -> float:
        return float(getattr(self, key))

    def flags(self) -> dict[str, str]:
        return {spec.key: spec.flag(self.value(spec.key)) for spec in MEASURE_SPECS}

    def to_json_dict(self) -> dict:
        """The command line's ``--json`` object: the four measures, their flags, calibration."""
        result: dict = {key: round(self.value(key), 4) for key in MEASURE_KEYS}
        result["flags"] = self.flags()
        result["calibrated"] = self.calibrated
        return result

    def as_rows(self) -> list[dict]:
        """One record per measure, for tables and reports."""
        flags = self.flags()
        rows = []
        for spec in MEASURE_SPECS:
            unit = spec.unit if not spec.is_length or self.calibrated else f"{spec.unit} (uncalibrated)"
            rows.append({
                "Measure": spec.label,
                "Key": spec.key,
                "Value": round(self.value(spec.key), 2),
                "Unit": unit,
                "Normal range": spec.normal_range_text,
                "Flag": flags[spec.key],
            })
        return rows


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def _cross2(a: np.ndarray, b: np.ndarray) -> float:
    return float(a[0] * b[1] - a[1] * b[0])


def _angle_between(a: np.ndarray, b: np.ndarray) -> float:
    cosine = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    return math.degrees(math.acos(min(1.0, max(-1.0, cosine))))


def validate_landmarks(points: Mapping[str, Sequence[float]]) -> dict[str, np.ndarray]:
    """The nine landmarks as float 3-vectors, or an :class:`InputError` naming what is wrong."""
    missing = [name for name in LANDMARK_NAMES if name not in points or points[name] is None]
    if missing:
        raise InputError(
            f"Missing landmark(s): {', '.join(missing)}. Place them (HipTHA module) or add control "
            f"points with these labels; all nine are needed: {', '.join(LANDMARK_NAMES)}."
        )
    checked: dict[str, np.ndarray] = {}
    for name in LANDMARK_NAMES:
        position = np.asarray(points[name], dtype=float).reshape(-1)
        if position.shape not in ((2,), (3,)):
            raise InputError(f"Landmark '{name}' must have 2 or 3 coordinates, got {position.size}.")
        if not np.all(np.isfinite(position)):
            raise InputError(f"Landmark '{name}' has a non-finite position {position.tolist()}; place it again.")
        checked[name] = np.append(position, 0.0) if position.size == 2 else position
    return checked


def _require_apart(p: np.ndarray, q: np.ndarray, what: str) -> None:
    if np.linalg.norm(p - q) < COINCIDENCE_TOLERANCE_MM:
        raise InputError(f"{what} coincide, so the measure is undefined; move one of them.")


def compute_hip_measures(
    points: Mapping[str, Sequence[float]],
    cup_diameter_mm: float | None = None,
    plane_normal: Sequence[float] | None = None,
    mm_per_unit: float = 1.0,
) -> HipMeasures:
    """Measures from the nine named landmarks (2-D or 3-D positions).

    ``plane_normal``: normal of the radiograph's plane when known (from the
    volume); otherwise the plane is fitted to the points.
    ``cup_diameter_mm``: true cup diameter for magnification correction.
    ``mm_per_unit``: millimetres per unit of the point coordinates (1 when the
    points are in mm; otherwise, for a film displayed with a nominal spacing,
    true spacing / displayed spacing).
    """
    p3 = validate_landmarks(points)
    if cup_diameter_mm is not None and not (math.isfinite(cup_diameter_mm) and cup_diameter_mm > 0):
        raise InputError(f"Cup diameter must be a positive number of millimetres, got {cup_diameter_mm}.")

    names = list(LANDMARK_NAMES)
    plane: ImagePlane = fit_image_plane(np.stack([p3[n] for n in names]), plane_normal)
    warnings: list[str] = []
    if plane.out_of_plane_rms > COPLANARITY_WARNING_MM:
        warnings.append(
            f"The landmarks stray {plane.out_of_plane_rms:.2f} mm (RMS) from a common plane; "
            "measures use their best-fit plane."
        )
    p = {name: point for name, point in zip(names, plane.to_2d(np.stack([p3[n] for n in names])))}
    b, j, a, d = p["cup_lateral"], p["cup_medial"], p["cup_bone_contact"], p["contralateral_center"]
    e, f, g, h, i = p["teardrop_right"], p["teardrop_left"], p["ischium_right"], p["ischium_left"], p["pubic_symphysis"]

    _require_apart(b, j, "cup_lateral and cup_medial")
    _require_apart(e, f, "teardrop_right and teardrop_left")
    _require_apart(g, h, "ischium_right and ischium_left")
    c = (b + j) / 2.0
    _require_apart(a, c, "cup_bone_contact and the cup centre")

    abduction = _angle_between(j - b, h - g)
    abduction = min(abduction, 180.0 - abduction)

    uncovered_arc = _angle_between(b - c, a - c)
    coverage = (180.0 - uncovered_arc) / 180.0 * 100.0

    teardrop_dir = _unit(f - e)

    def height_above_teardrops(q: np.ndarray) -> float:
        return _cross2(teardrop_dir, q - e)

    ischia_side = height_above_teardrops((g + h) / 2.0)
    if abs(ischia_side) < COINCIDENCE_TOLERANCE_MM:
        raise InputError("The ischia lie on the teardrop line, so 'above' is undefined; check the ischium and teardrop points.")
    up = -math.copysign(1.0, ischia_side)
    h1, h0 = up * height_above_teardrops(c), up * height_above_teardrops(d)

    c_side, d_side = float(np.dot(c - i, teardrop_dir)), float(np.dot(d - i, teardrop_dir))
    l1, l0 = abs(c_side), abs(d_side)
    if c_side * d_side > 0:
        warnings.append("same_side_centres: the cup centre and the contralateral centre lie on the same side of the midline; "
                        "check their labels.")
    if abs(np.dot(b - i, teardrop_dir)) < abs(np.dot(j - i, teardrop_dir)):
        warnings.append("swapped_cup_points: cup_lateral is nearer the midline than cup_medial; are the two swapped?")

    if not (math.isfinite(mm_per_unit) and mm_per_unit > 0):
        raise InputError(f"mm per unit must be a positive number, got {mm_per_unit}.")
    measured_diameter = float(np.linalg.norm(b - j)) * mm_per_unit
    scale = mm_per_unit * (cup_diameter_mm / measured_diameter if cup_diameter_mm is not None else 1.0)
    cup_centre_3d = (p3["cup_lateral"] + p3["cup_medial"]) / 2.0
    return HipMeasures(
        abduction_deg=abduction,
        coverage_pct=coverage,
        rc_vertical_offset_mm=(h1 - h0) * scale,
        rc_horizontal_offset_mm=(l1 - l0) * scale,
        calibrated=cup_diameter_mm is not None,
        length_scale=scale,
        cup_diameter_measured_mm=measured_diameter,
        cup_center=cup_centre_3d,
        warnings=tuple(warnings),
    )


def midline_segment(points: Mapping[str, Sequence[float]], plane_normal: Sequence[float] | None = None,
                    margin: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """End points (3-D) of the pelvic midline: through the symphysis, perpendicular to
    the teardrop line, long enough to span the landmarks placed so far.

    Needs the two teardrops and the symphysis (and, without ``plane_normal``,
    at least one more point off their line to fix the image plane).
    """
    needed = ("teardrop_right", "teardrop_left", "pubic_symphysis")
    placed = {name: np.append(np.asarray(p, dtype=float).reshape(-1), [0.0])[:3]
              for name, p in points.items() if p is not None and np.all(np.isfinite(np.asarray(p, dtype=float)))}
    absent = [name for name in needed if name not in placed]
    if absent:
        raise InputError(f"The midline needs {', '.join(absent)}.")
    stacked = np.stack(list(placed.values()))
    if plane_normal is None and len(stacked) < 4:
        raise InputError("The image plane is not fixed yet; place one more landmark.")
    plane = fit_image_plane(stacked, plane_normal)
    teardrop = placed["teardrop_left"] - placed["teardrop_right"]
    teardrop = teardrop - plane.normal * np.dot(teardrop, plane.normal)
    if np.linalg.norm(teardrop) < COINCIDENCE_TOLERANCE_MM:
        raise InputError("teardrop_right and teardrop_left coincide, so the midline is undefined; move one of them.")
    direction = _unit(np.cross(plane.normal, _unit(teardrop)))
    symphysis = placed["pubic_symphysis"]
    reach = (stacked - symphysis) @ direction
    span = max(float(reach.max() - reach.min()), 1.0)
    return symphysis + direction * (reach.min() - margin * span), symphysis + direction * (reach.max() + margin * span)
