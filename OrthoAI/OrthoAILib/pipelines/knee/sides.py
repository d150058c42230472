"""Which tibial plate is medial and which lateral.

Up close the two plates look alike (a left knee is a right one mirrored), and a stage-2 patch seldom
holds what tells them apart, so stage 2's own medial/lateral call is close to chance on knees it has
not seen, and at times confidently wrong. The voxels called tibial cartilage (either plate) are
therefore split into the two groups they form across the knee (2-means along the canonical grid's
slice axis K, which runs medial-lateral), and each group is given its side by the first of these
that can tell:

1. the fibula: it stands on the lateral side, so the group nearer its head across the knee is
   lateral. Found by stage 2 where that network has the class, else by the coarse bone network on
   the whole knee (``fibula_position``); it must lie clearly to one side of the middle between the
   two groups (``MIN_FIBULA_OFFSET_MM``), or it says nothing;
2. stage 2, where it is confident (its mean medial-minus-lateral probability differs between the
   groups by ``CONFIDENT_SIDE_MARGIN`` or more);
3. the thicker group is the lateral plate, as lateral tibial cartilage is thicker than medial in most
   knees (Eckstein et al., 2006), and more so where osteoarthritis thins the medial plate.

Rules 2 and 3 are weak: the pipeline warns when one of them decided.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..masks import largest_component

FIBULA = 8  # stage 2's class of the fibula
COARSE_FIBULA = 2  # the coarse bone network's class of the fibula
MIN_FIBULA_VOXELS = 200  # 70 mm³ on the 0.7 mm grid; a fibular head in the crop has thousands
MIN_COARSE_FIBULA_MM3 = 1000.0  # the fibula's head and neck in a knee MR hold several cm³
MIN_FIBULA_OFFSET_MM = 8.0  # from the middle between the plates: the fibular head sits 20-30 mm lateral of it
CONFIDENT_SIDE_MARGIN = 0.2  # mean medial-minus-lateral probability difference between the two groups
RULE_WORDS = {"fibula": "the fibula", "stage 2": "stage 2's own leaning", "thicker plate": "which plate is thicker"}
WEAK_RULES = ("stage 2", "thicker plate")


def fibula_position(bone_probabilities: np.ndarray, voxel_mm3: float) -> Optional[np.ndarray]:
    """The centre (K, J, I voxel coordinates) of the fibula the coarse bone network finds, its
    largest piece, or None where that piece is smaller than ``MIN_COARSE_FIBULA_MM3``."""
    fibula = largest_component(bone_probabilities.argmax(0) == COARSE_FIBULA, np.ones((3, 3, 3)))
    if fibula.sum() * voxel_mm3 < MIN_COARSE_FIBULA_MM3:
        return None
    return np.argwhere(fibula).mean(0)


def tibial_sides(probabilities: np.ndarray, fibula_k: Optional[float] = None,
                 spacing_mm: float = 0.7) -> tuple[np.ndarray, Optional[str]]:
    """Stage 2's class probabilities (C×K×J×I on the canonical grid of ``spacing_mm``) with the
    tibial plates put on their sides, and the rule that decided (a key of ``RULE_WORDS``; None when
    there was nothing to sort: no tibial cartilage, or one plate only). ``fibula_k``: where the coarse
    bone network found the fibula, in this grid's K."""
    from scipy import ndimage

    labels = probabilities.argmax(0)
    tibial = (labels == 2) | (labels == 3)
    if tibial.sum() < 50:
        return probabilities, None
    k = np.nonzero(tibial)[0].astype(float)
    centres = np.percentile(k, [25, 75])
    for _ in range(10):
        side = np.abs(k - centres[0]) > np.abs(k - centres[1])
        if side.all() or not side.any():
            return probabilities, None
        centres = np.array([k[~side].mean(), k[side].mean()])
    if centres[1] - centres[0] < 10:  # one plate only (a few millimetres across): nothing to sort
        return probabilities, None
    if probabilities.shape[0] > FIBULA:  # stage 2 has the class: its own finding comes first
        found = largest_component(labels == FIBULA, np.ones((3, 3, 3)))
        if found.sum() >= MIN_FIBULA_VOXELS:
            fibula_k = float(np.nonzero(found)[0].mean())
    margin = probabilities[2][tibial] - probabilities[3][tibial]
    difference = margin[~side].mean() - margin[side].mean()  # > 0: group 0 looks more medial
    if fibula_k is not None and abs(fibula_k - centres.mean()) * spacing_mm >= MIN_FIBULA_OFFSET_MM:
        medial_group, rule = (0 if abs(centres[0] - fibula_k) > abs(centres[1] - fibula_k) else 1), "fibula"
    elif abs(difference) >= CONFIDENT_SIDE_MARGIN:
        medial_group, rule = (0 if difference > 0 else 1), "stage 2"
    else:  # the thicker plate is lateral: mean depth inside each group (distance to its surface)
        depth = ndimage.distance_transform_edt(tibial)[tibial]
        medial_group, rule = (0 if depth[~side].mean() < depth[side].mean() else 1), "thicker plate"
    out = probabilities.copy()
    total = probabilities[2] + probabilities[3]
    group = np.full(labels.shape, -1)
    group[tibial] = side.astype(int)
    for value, keep in ((2, group == medial_group), (3, group == 1 - medial_group)):
        other = 5 - value
        out[value][keep] = total[keep]
        out[other][keep] = 0.0
    return out, rule
