"""Measure how far HC18's filled masks extend beyond the annotated ellipse (``calibration.py``).

    python -m OrthoAILib.pipelines.fetal.training.outline_offset

For each training still: fit an ellipse to the mask's sub-pixel edge, take its perimeter and
compare it with the reference HC (the annotated ellipse's perimeter, in pixels). The radial
offset is the perimeter difference over 2π. Prints JSON.
"""

from __future__ import annotations

import json
import math

import numpy as np


def measure(step: int = 1) -> dict:
    from ..ellipse import fit_region
    from .hc18 import hc18_cases, load_mask, split

    differences = []
    for case in split(hc18_cases())[0][::step]:
        ellipse = fit_region(load_mask(case.mask_path).astype(np.float32))
        if ellipse is not None:
            differences.append(ellipse.perimeter_px - case.hc_mm / case.pixel_size_mm)
    differences = np.array(differences)
    return {"cases": int(len(differences)), "perimeter_excess_px_mean": round(float(differences.mean()), 3),
            "perimeter_excess_px_sd": round(float(differences.std()), 3),
            "radial_offset_px": round(float(differences.mean() / (2 * math.pi)), 3)}


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
