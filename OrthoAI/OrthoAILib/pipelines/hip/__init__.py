"""Hip arthroplasty keypoints and the measures derived from them (core layer)."""

from .landmarks import HIP_LANDMARKS, LANDMARK_NAMES, HipLandmark
from .measures import MEASURE_SPECS, HipMeasures, MeasureSpec, compute_hip_measures

__all__ = [
    "HIP_LANDMARKS",
    "LANDMARK_NAMES",
    "HipLandmark",
    "MEASURE_SPECS",
    "HipMeasures",
    "MeasureSpec",
    "compute_hip_measures",
]
