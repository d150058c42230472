"""The nine keypoints of an AP pelvis radiograph after total hip arthroplasty.

Names are the labels of the control points in Slicer's markups; the letters are
the ones the source method uses in its figures.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HipLandmark:
    name: str
    letter: str
    description: str


HIP_LANDMARKS: tuple[HipLandmark, ...] = (
    HipLandmark("cup_lateral", "b", "Lateral end of the cup's diameter through its centre"),
    HipLandmark("cup_medial", "j", "Medial end of the cup's diameter through its centre"),
    HipLandmark("cup_bone_contact", "a", "Where the cup leaves native acetabular bone"),
    HipLandmark("contralateral_center", "d", "Centre of the contralateral femoral head or prosthesis"),
    HipLandmark("teardrop_right", "e", "Lowest point of the patient's right teardrop"),
    HipLandmark("teardrop_left", "f", "Lowest point of the patient's left teardrop"),
    HipLandmark("ischium_right", "g", "Lowest point of the patient's right ischium"),
    HipLandmark("ischium_left", "h", "Lowest point of the patient's left ischium"),
    HipLandmark("pubic_symphysis", "i", "Upper end of the pubic symphysis"),
)

LANDMARK_NAMES: tuple[str, ...] = tuple(landmark.name for landmark in HIP_LANDMARKS)

# Lines drawn over the film: name -> (start landmark, end landmark). The midline
# is not between two landmarks; it is drawn through the symphysis,
# perpendicular to the teardrop line (see measures.midline_segment).
HIP_LINES: dict[str, tuple[str, str]] = {
    "Cup diameter": ("cup_lateral", "cup_medial"),
    "Teardrop line": ("teardrop_right", "teardrop_left"),
    "Inter-ischial line": ("ischium_right", "ischium_left"),
}
MIDLINE_NAME = "Pelvic midline"
