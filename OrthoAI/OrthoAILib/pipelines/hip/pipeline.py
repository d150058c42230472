"""The hip pipeline: one AP pelvis radiograph in, keypoints and measures per operated side out.

The ``orthoai hip`` command, the HipTHA module and the held-out benchmark all call
:meth:`HipPipeline.run`, so all three give the same answers. Points are placed
through the image's geometry (where the film is shown), and lengths are scaled by
its true mm per unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ...errors import InputError
from ...geometry import ImageGeometry, pixel_points_to_ras
from ...image import Image
from ...runtime.progress import CancelToken, ProgressCallback
from ..base import STATUS_OK, geometry_json
from .keypoint_pipeline import HipKeypointDetector, HipKeypoints
from .measures import HipMeasures, compute_hip_measures
from .plausibility import film_size_warning, side_warnings
from .presence import Refusal, refusal_status
from .report import csv_rows

SIDES = ("auto", "right", "left", "both")


@dataclass(frozen=True)
class HipOptions:
    cup_diameter_mm: Optional[float] = None  # true cup diameter: calibrates lengths
    side: str = "auto"  # operated side: found automatically, or right / left / both

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise InputError(f"side must be one of {', '.join(SIDES)}, got '{self.side}'.")


@dataclass(frozen=True)
class HipSideResult:
    operated_side: str
    points_rc: dict[str, np.ndarray]  # (row, column) in the image's array
    points_ras: dict[str, np.ndarray]
    confidence: dict[str, float]
    measures: Optional[HipMeasures]
    error: str = ""
    plausibility: tuple[str, ...] = ()  # named warnings from plausibility.side_warnings
    consistency_mm: dict[str, float] = field(default_factory=dict)
    cup_score: float = 0.0

    @property
    def status(self) -> str:
        return STATUS_OK if self.measures is not None else "failed"

    @property
    def warnings(self) -> tuple[str, ...]:
        if self.measures is None:
            return (self.error,)
        return (*self.measures.warnings, *self.plausibility)

    def to_json(self) -> dict:
        result = {"operated_side": self.operated_side, "status": self.status, "cup_score": round(self.cup_score, 3)}
        if self.measures is not None:
            result.update(self.measures.to_json_dict())
            result["warnings"] = list(self.warnings)
        else:
            result["error"] = self.error
        result["confidence"] = {name: round(value, 3) for name, value in self.confidence.items()}
        result["consistency_mm"] = dict(self.consistency_mm)
        result["landmarks_ras_mm"] = {name: [round(float(v), 3) for v in p] for name, p in self.points_ras.items()}
        return result


@dataclass(frozen=True)
class HipCaseResult:
    source: str
    spacing_mm: tuple[float, float]  # true (row, column) pixel spacing
    spacing_source: str
    geometry: ImageGeometry  # the points_ras refer to it
    sides: tuple[HipSideResult, ...]
    warnings: tuple[str, ...] = ()
    timings_s: dict[str, float] = field(default_factory=dict)
    refused: tuple[Refusal, ...] = ()  # sides (or the whole film) not measured, and why
    cup_scores: tuple[float, float] = (0.0, 0.0)  # the patient's right hip, left hip
    pelvis_score: float = 0.0

    @property
    def status(self) -> str:
        """``ok`` when every measured side is; with nothing measured, why (``no_prosthesis``…)."""
        if not self.sides:
            return refusal_status(self.refused, "failed")
        return next((side.status for side in self.sides if side.status != STATUS_OK), STATUS_OK)

    def to_json(self) -> dict:
        return {"source": self.source, "status": self.status, "pixel_spacing_mm": list(self.spacing_mm),
                "spacing_source": self.spacing_source, "geometry": geometry_json(self.geometry),
                "cup_scores": {"right": round(self.cup_scores[0], 3), "left": round(self.cup_scores[1], 3)},
                "pelvis_score": round(self.pelvis_score, 3),
                "sides": [side.to_json() for side in self.sides],
                "refused": [{"side": r.side, "status": r.status, "message": r.message} for r in self.refused],
                "warnings": list(self.warnings)}

    def csv_rows(self) -> list[dict]:
        """One row per operated side, with the case's and the side's warnings."""
        return csv_rows(self.to_json())


def measure_detection(keypoints: HipKeypoints, geometry: ImageGeometry, cup_diameter_mm: Optional[float],
                      mm_per_unit: float = 1.0, spacing_calibrated: bool = True) -> tuple[HipSideResult, ...]:
    """Measures per side, from points in the image's pixels placed through its geometry, with the
    plausibility checks' named warnings."""
    directions = np.asarray(geometry.directions)
    normal, across = directions[:, 2], directions[:, 0]
    results = []
    for side in keypoints.sides:
        ras = pixel_points_to_ras(side.points_rc, geometry)
        checks: tuple[str, ...] = ()
        try:
            measures, error = compute_hip_measures(ras, cup_diameter_mm, normal, mm_per_unit), ""
            checks = side_warnings(ras, measures, normal=normal, image_across=across,
                                   spacing_calibrated=spacing_calibrated, mm_per_unit=mm_per_unit)
        except InputError as failure:
            measures, error = None, str(failure)
        results.append(HipSideResult(side.operated_side, side.points_rc, ras, side.confidence, measures, error, checks,
                                     side.consistency_mm, side.cup_score))
    return tuple(results)


class HipPipeline:
    """Keypoints and measures per operated side. The two networks load once, with the pipeline."""

    name = "hip"

    def __init__(self, store=None, device=None, detector: Optional[HipKeypointDetector] = None) -> None:
        self.detector = detector or HipKeypointDetector(store, device)

    def run(self, image: Image, options: Optional[HipOptions] = None, *, progress: Optional[ProgressCallback] = None,
            cancel: Optional[CancelToken] = None) -> HipCaseResult:
        options = options or HipOptions()
        pixels, spacing = image.plane, image.pixel_spacing_rc
        keypoints = self.detector.detect(pixels, spacing, side=options.side, progress=progress, cancel=cancel)
        warnings = list(keypoints.warnings)
        if not image.origin.spacing_calibrated and options.cup_diameter_mm is None:
            warnings.append("Pixel spacing is at the detector (no magnification factor): lengths are magnified; "
                            "give the cup diameter to calibrate them.")
        size = film_size_warning(pixels.shape, spacing)
        if size:
            warnings.append(size)
        warnings.extend(refusal.message for refusal in keypoints.refused)
        sides = measure_detection(keypoints, image.geometry, options.cup_diameter_mm, image.origin.mm_per_unit,
                                  image.origin.spacing_calibrated)
        return HipCaseResult(image.origin.name, spacing, image.origin.spacing_source, image.geometry, sides,
                             tuple(warnings), keypoints.timings_s, keypoints.refused, keypoints.cup_scores,
                             keypoints.pelvis_score)
