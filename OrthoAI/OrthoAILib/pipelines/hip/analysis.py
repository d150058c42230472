"""One radiograph in, keypoints and measures out (per operated side), in millimetres.

Used by the ``orthoai hip`` command, the HipTHA module's logic and the
benchmark, so all three give the same answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ...errors import InputError
from ...geometry import ImageGeometry, mirror_columns, pixel_points_to_ras, radiograph_geometry
from ...io.radiograph import Radiograph
from ...runtime.progress import CancelToken, ProgressCallback
from .keypoint_pipeline import HipKeypointDetector, HipKeypoints
from .measures import HipMeasures, compute_hip_measures

@dataclass(frozen=True)
class HipSideResult:
    operated_side: str
    points_rc: dict[str, np.ndarray]
    points_ras: dict[str, np.ndarray]
    confidence: dict[str, float]
    measures: Optional[HipMeasures]
    error: str = ""

    def to_json_dict(self) -> dict:
        result = {"operated_side": self.operated_side}
        if self.measures is not None:
            result.update(self.measures.to_json_dict())
            result["warnings"] = list(self.measures.warnings)
        else:
            result["error"] = self.error
        result["confidence"] = {name: round(value, 3) for name, value in self.confidence.items()}
        result["landmarks_ras_mm"] = {name: [round(float(v), 3) for v in p] for name, p in self.points_ras.items()}
        return result


@dataclass(frozen=True)
class HipCaseResult:
    source: str
    spacing_mm: tuple[float, float]
    spacing_source: str
    sides: tuple[HipSideResult, ...]
    warnings: tuple[str, ...] = ()
    timings_s: dict[str, float] = field(default_factory=dict)

    def to_json_dict(self) -> dict:
        return {"source": self.source, "pixel_spacing_mm": list(self.spacing_mm), "spacing_source": self.spacing_source,
                "sides": [side.to_json_dict() for side in self.sides], "warnings": list(self.warnings)}


def measure_detection(keypoints: HipKeypoints, geometry: ImageGeometry, cup_diameter_mm: Optional[float],
                      mirrored: bool = False, mm_per_unit: float = 1.0) -> tuple[HipSideResult, ...]:
    """Measures per side; ``mirrored``: the pixels were flipped left-right from the geometry's
    columns (points are flipped back before they are placed)."""
    normal = np.asarray(geometry.directions)[:, 2]
    columns = keypoints.image_shape[1]
    results = []
    for side in keypoints.sides:
        points_rc = side.points_rc
        if mirrored:
            points_rc = mirror_columns(points_rc, columns)
        ras = pixel_points_to_ras(points_rc, geometry)
        try:
            measures, error = compute_hip_measures(ras, cup_diameter_mm, normal, mm_per_unit), ""
        except InputError as failure:
            measures, error = None, str(failure)
        results.append(HipSideResult(side.operated_side, points_rc, ras, side.confidence, measures, error))
    return tuple(results)


def analyse_radiograph(radiograph: Radiograph, detector: HipKeypointDetector, *, cup_diameter_mm: Optional[float] = None,
                       side: str = "auto", geometry: Optional[ImageGeometry] = None, mm_per_unit: float = 1.0,
                       progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> HipCaseResult:
    """Keypoints and measures per operated side.

    ``geometry``: where the points are placed (default: the film's own, in mm; a volume
    node's geometry follows its stored columns, so mirrored pixels are flipped back);
    ``mm_per_unit``: true mm per unit of that geometry (see ``compute_hip_measures``).
    """
    mirrored = geometry is not None and radiograph.mirrored  # a volume's own geometry follows its stored columns
    geometry = geometry or radiograph_geometry(radiograph.pixels.shape, radiograph.spacing_mm)
    keypoints = detector.detect(radiograph.pixels, radiograph.spacing_mm, side=side, progress=progress, cancel=cancel)
    warnings = list(keypoints.warnings)
    if not radiograph.magnification_corrected and cup_diameter_mm is None:
        warnings.append("Pixel spacing is at the detector (no magnification factor): lengths are magnified; "
                        "give the cup diameter to calibrate them.")
    return HipCaseResult(radiograph.source, radiograph.spacing_mm, radiograph.spacing_source,
                         measure_detection(keypoints, geometry, cup_diameter_mm, mirrored, mm_per_unit), tuple(warnings),
                         keypoints.timings_s)
