"""Plausibility checks on every hip result: each a named warning (``name: what and what to do``)
that reaches the JSON, the CSV and the module.

The measures themselves warn when the cup centre and the contralateral centre share a side
of the midline (``same_side_centres``) and when cup_lateral is nearer the midline than
cup_medial (``swapped_cup_points``); these add what needs the film as a whole.
"""

from __future__ import annotations

import math
from typing import Mapping, Optional

import numpy as np

from ...io.radiograph_policy import film_size_warning as film_size_rule
from .measures import HipMeasures

CUP_DIAMETER_MM = (36.0, 80.0)  # shells on the market, true size
TYPICAL_MAGNIFICATION = 1.15  # an AP pelvis film magnifies by 10-20 %: used when the spacing is not corrected
MAX_LINE_TILT_DEG = 20.0
# The pelvis' bounding region: the box of the teardrops, ischia and symphysis grown by these margins (mm);
# cup and contralateral points lie within about 80 mm laterally and 60 mm above the teardrops.
REGION_MARGIN_MM = (110.0, 90.0)  # lateral, vertical


def film_size_warning(shape_rc: tuple[int, int], spacing_rc: tuple[float, float]) -> Optional[str]:
    """A side outside 150-600 mm: the readers' soft rule (``io.radiograph_policy``), named."""
    found = film_size_rule(shape_rc, spacing_rc)
    return f"implausible_film_size: {found}" if found else None


def cup_diameter_warning(measures: HipMeasures, spacing_calibrated: bool, mm_per_unit: float = 1.0) -> Optional[str]:
    """The cup's true size from the film: measured diameter, less the typical magnification when the
    spacing is at the detector. A calibrated measure was scaled to the user's diameter: not checked."""
    if measures.calibrated:
        return None
    true_mm = measures.cup_diameter_measured_mm * mm_per_unit / (1.0 if spacing_calibrated else TYPICAL_MAGNIFICATION)
    if not CUP_DIAMETER_MM[0] <= true_mm <= CUP_DIAMETER_MM[1]:
        return (f"implausible_cup_diameter: the cup measures about {true_mm:.0f} mm; cups are "
                f"{CUP_DIAMETER_MM[0]:.0f}-{CUP_DIAMETER_MM[1]:.0f} mm. Check the cup points and the pixel spacing.")
    return None


def _in_plane(points: Mapping[str, np.ndarray], normal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors along the teardrop line, "up" (away from the ischia) in the film's plane, and the origin."""
    e, f = np.asarray(points["teardrop_right"], float), np.asarray(points["teardrop_left"], float)
    across = (f - e) / max(np.linalg.norm(f - e), 1e-9)
    up = np.cross(normal, across)
    ischia = (np.asarray(points["ischium_right"], float) + np.asarray(points["ischium_left"], float)) / 2
    if np.dot(ischia - e, up) > 0:
        up = -up
    return across, up, e


def tilt_warnings(points: Mapping[str, np.ndarray], image_across: np.ndarray) -> list[str]:
    """Teardrop or inter-ischial line more than 20° off the film's rows."""
    warnings = []
    for name, (start, end) in {"teardrop line": ("teardrop_right", "teardrop_left"),
                               "inter-ischial line": ("ischium_right", "ischium_left")}.items():
        direction = np.asarray(points[end], float) - np.asarray(points[start], float)
        cosine = abs(float(np.dot(direction, image_across))) / max(np.linalg.norm(direction), 1e-9)
        angle = math.degrees(math.acos(min(1.0, cosine)))
        if angle > MAX_LINE_TILT_DEG:
            warnings.append(f"tilted_{name.split()[0].replace('-', '_')}_line: the {name} is tilted {angle:.0f}° from "
                            f"the film's rows (more than {MAX_LINE_TILT_DEG:.0f}°); check its points and the film's "
                            "orientation.")
    return warnings


def region_warning(points: Mapping[str, np.ndarray], normal: np.ndarray, mm_per_unit: float = 1.0) -> Optional[str]:
    """Points outside the pelvis' bounding region (built from the pelvic landmarks)."""
    across, up, origin = _in_plane(points, normal)
    pelvic = ("teardrop_right", "teardrop_left", "ischium_right", "ischium_left", "pubic_symphysis")
    coordinates = {n: np.array([np.dot(np.asarray(p, float) - origin, across), np.dot(np.asarray(p, float) - origin, up)])
                   * mm_per_unit for n, p in points.items()}
    box = np.array([coordinates[n] for n in pelvic])
    low, high = box.min(axis=0) - REGION_MARGIN_MM, box.max(axis=0) + REGION_MARGIN_MM
    outside = [n for n, c in coordinates.items() if np.any(c < low) or np.any(c > high)]
    if outside:
        return (f"points_outside_pelvis: {', '.join(outside)} lie outside the pelvis' region; check them "
                "(is this an AP pelvis film?).")
    return None


def side_warnings(points: Mapping[str, np.ndarray], measures: HipMeasures, *, normal: np.ndarray,
                  image_across: np.ndarray, spacing_calibrated: bool, mm_per_unit: float = 1.0) -> tuple[str, ...]:
    found = [cup_diameter_warning(measures, spacing_calibrated, mm_per_unit), region_warning(points, normal, mm_per_unit),
             *tilt_warnings(points, image_across)]
    return tuple(w for w in found if w)
