"""Calibrate the refusal thresholds of the fetal head pipeline and store them in the registry.

    python -m OrthoAILib.pipelines.fetal.training.presence_calibration [--update-registry]

Positives: the HC18 validation stills (subjects never trained on). Negatives: stills without a
head made from them (``negatives.py``). For each score the accept threshold keeps 99 % of the
positives (their 1st percentile, rounded down), and the reject threshold lies halfway between
the negatives' 99th percentile and the accept threshold when that is lower, so an image with
a score between the two is ``low_confidence`` rather than a guess. Prints JSON with the
acceptance and refusal rates that the thresholds give on both sets.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def _scores(pipeline, plane):
    search = pipeline.find_head(plane)
    return None if search.ellipse is None else search.scores


def collect(pipeline, seed: int = 0):
    from .hc18 import hc18_cases, load_image, load_mask, split
    from .negatives import KINDS, make_negative

    rng = np.random.default_rng(seed)
    positives, negatives = [], []
    for case in split(hc18_cases())[1]:
        image, mask = load_image(case.image_path).astype(np.float32), load_mask(case.mask_path)
        positives.append(_scores(pipeline, image))
        for kind in KINDS:  # each kind from every still, where the still allows it
            negative = make_negative(image, mask, kind, rng)
            if negative is not None:
                negatives.append((kind, _scores(pipeline, negative)))
    return positives, negatives


def thresholds_from(positives, negatives) -> dict:
    found = [s for s in positives if s is not None]
    values = {"confidence": np.array([s.confidence for s in found]), "ellipse_fit": np.array([s.ellipse_fit for s in found])}
    negative_found = [s for _, s in negatives if s is not None]
    result = {}
    for key, accept_name, reject_name in (("confidence", "accept_confidence", "reject_confidence"),
                                          ("ellipse_fit", "accept_ellipse_fit", "reject_ellipse_fit")):
        accept = float(np.floor(np.percentile(values[key], 1) * 100) / 100)
        negative_values = np.array([getattr(s, key) for s in negative_found]) if negative_found else np.array([0.0])
        reject = min(accept, float(np.ceil(np.percentile(negative_values, 99) * 100) / 100))
        result[accept_name], result[reject_name] = accept, round((reject + accept) / 2, 3) if reject < accept else accept
    areas = np.array([s.area_fraction for s in found])
    result["min_area_fraction"] = float(np.floor(np.percentile(areas, 0.5) * 0.5 * 1000) / 1000)
    return result


def rates(pipeline_thresholds, positives, negatives) -> dict:
    from ..presence import OK, decide

    accepted = [decide(s, pipeline_thresholds)[0] == OK for s in positives]
    by_kind: dict[str, list[bool]] = {}
    for kind, s in negatives:
        by_kind.setdefault(kind, []).append(decide(s, pipeline_thresholds)[0] == OK)
    return {"validation_stills": len(positives), "false_refusal_rate": round(1 - float(np.mean(accepted)), 4),
            "generated_negatives": {k: {"cases": len(v), "false_acceptance_rate": round(float(np.mean(v)), 4)}
                                    for k, v in by_kind.items()}}


def main(argv: list[str] | None = None) -> int:
    from ..pipeline import FetalHeadPipeline
    from ....runtime.registry import default_registry_path, write_registry_entry
    from ..presence import PresenceThresholds
    from ..pipeline import SEGMENTER_ID

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update-registry", action="store_true")
    parser.add_argument("--registry", type=Path)
    args = parser.parse_args(argv)
    pipeline = FetalHeadPipeline()
    positives, negatives = collect(pipeline)
    thresholds = thresholds_from(positives, negatives)
    report = {"thresholds": thresholds, **rates(PresenceThresholds(**thresholds), positives, negatives)}
    print(json.dumps(report, indent=2))
    if args.update_registry:
        registry = args.registry or default_registry_path()
        entry = json.loads(Path(registry).read_text())
        model = next(m for m in entry["models"] if m["id"] == SEGMENTER_ID)
        model["presence"] = {**thresholds, "calibration": {k: v for k, v in report.items() if k != "thresholds"}}
        write_registry_entry(registry, model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
