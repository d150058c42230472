"""Measure the two edge offsets of ``calibration.py`` on the HC18 training stills.

    python -m OrthoAILib.pipelines.fetal.training.outline_offset [--pipeline]

Masks: fit an ellipse to each mask's sub-pixel edge and compare its perimeter with the reference
HC (the annotated ellipse's perimeter, in pixels); the radial offset is the difference over 2π.
``--pipeline``: the same for the ellipse the pipeline fits to the segmenter's edge (before its
own offset is applied), on every training still the pipeline does not refuse. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np


def _summary(differences) -> dict:
    differences = np.array(differences)
    return {"cases": int(len(differences)), "perimeter_excess_px_mean": round(float(differences.mean()), 3),
            "perimeter_excess_px_sd": round(float(differences.std()), 3),
            "radial_offset_px": round(float(differences.mean() / (2 * math.pi)), 3)}


def mask_offset() -> dict:
    from ..ellipse import fit_region
    from .hc18 import hc18_cases, load_mask, split

    differences = []
    for case in split(hc18_cases())[0]:
        ellipse = fit_region(load_mask(case.mask_path).astype(np.float32))
        if ellipse is not None:
            differences.append(ellipse.perimeter_px - case.hc_mm / case.pixel_size_mm)
    return _summary(differences)


def pipeline_offset() -> dict:
    from ..pipeline import FetalHeadPipeline
    from ..presence import OK
    from .hc18 import hc18_cases, load_image, split

    pipeline = FetalHeadPipeline(force_cpu=True)
    differences = []
    for case in split(hc18_cases())[0]:
        image = load_image(case.image_path).astype(np.float32)
        search = pipeline.find_head(image)
        if search.status == OK:
            differences.append(search.ellipse.perimeter_px - case.hc_mm / case.pixel_size_mm)
    return _summary(differences)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", action="store_true", help="the segmenter's edge instead of the masks'")
    print(json.dumps(pipeline_offset() if parser.parse_args().pipeline else mask_offset(), indent=2))
