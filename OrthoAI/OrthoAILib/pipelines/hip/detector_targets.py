"""What the hip keypoint networks learn: canonical classes and their targets.

The detector always looks for the operated hip on the **image's left** half
(the patient's right in radiological orientation). A film whose operated hip
is the patient's left is mirrored first; a bilateral film is looked at both
ways. Its nine classes are therefore named by role and by near/far side:

* the cup's three points and ``contralateral_center`` (the other hip's head or
  prosthesis centre);
* ``teardrop_near`` / ``ischium_near`` on the operated side, ``*_far`` on the
  other; the symphysis.

When the image-left hip is native, the cup classes are absent; that teaches the
detector to answer "no cup here", which is how the operated side is found.
"""

from __future__ import annotations

import numpy as np

from ...geometry import mirror_columns
from .landmarks import LANDMARK_NAMES

CANONICAL_CLASSES: tuple[str, ...] = (
    "cup_lateral", "cup_medial", "cup_bone_contact", "contralateral_center",
    "teardrop_near", "teardrop_far", "ischium_near", "ischium_far", "pubic_symphysis",
)
CUP_CLASSES = ("cup_lateral", "cup_medial", "cup_bone_contact")
# Refinement looks at the contralateral centre on a coarser grid: a head is up to
# 70 mm wide and its centre is only defined by its whole outline.
REFINE_SCALE = {name: (2 if name == "contralateral_center" else 1) for name in CANONICAL_CLASSES}


def image_left_side(mirrored: bool) -> str:
    return "left" if mirrored else "right"


def canonical_to_landmark(name: str, operated_side: str) -> str:
    """Canonical class -> the landmark name of ``OrthoAILib.pipelines.hip`` (patient sides)."""
    other = "left" if operated_side == "right" else "right"
    if name.endswith("_near"):
        return name.replace("_near", f"_{operated_side}")
    if name.endswith("_far"):
        return name.replace("_far", f"_{other}")
    return name


def canonical_targets(keypoints_rc: dict[str, dict[str, np.ndarray]], image_columns: int, mirrored: bool
                      ) -> dict[str, np.ndarray]:
    """Target (row, column) per present canonical class, in the (possibly mirrored) image's pixels.

    ``keypoints_rc``: the generator's per-operated-side landmark positions; ``{"none": pelvic
    points}`` for a pelvis with both hips native (no cup, no contralateral centre to learn), and
    ``{}`` for a film that is not an AP pelvis (nothing to find: every class learns background).
    """
    if not keypoints_rc:
        return {}
    near = image_left_side(mirrored)
    far = "left" if near == "right" else "right"
    any_side = next(iter(keypoints_rc.values()))
    targets: dict[str, np.ndarray] = {}
    if "none" in keypoints_rc:
        pass  # both hips native: only the pelvic points below
    elif near in keypoints_rc:
        for name in CUP_CLASSES:
            targets[name] = keypoints_rc[near][name]
        targets["contralateral_center"] = keypoints_rc[near]["contralateral_center"]
    else:  # native hip on the image's left: the far hip is the prosthesis
        far_points = keypoints_rc[far]
        targets["contralateral_center"] = (far_points["cup_lateral"] + far_points["cup_medial"]) / 2.0
    targets["teardrop_near"], targets["teardrop_far"] = any_side[f"teardrop_{near}"], any_side[f"teardrop_{far}"]
    targets["ischium_near"], targets["ischium_far"] = any_side[f"ischium_{near}"], any_side[f"ischium_{far}"]
    targets["pubic_symphysis"] = any_side["pubic_symphysis"]
    if mirrored:
        targets = mirror_columns(targets, image_columns)
    return targets


assert {canonical_to_landmark(n, "right") for n in CANONICAL_CLASSES} == set(LANDMARK_NAMES)
