"""Accuracy and speed of the fetal head pipeline on the HC18 validation subjects (JSON).

    python -m OrthoAILib.pipelines.fetal.training.benchmark [--limit N] [--update-registry]

Per validation still, end to end as ``orthoai fetal`` runs it (read, segment, fit, measure,
classify, Grad-CAM, encode the mask and heatmap PNGs; the disk write excluded): Dice of the
head mask and of the fitted ellipse against the expert mask, absolute HC difference against the
reference HC in mm, and the head-shape class against the class of the expert ellipse. Then the
not-a-head check on the 19 real other-plane images of ``fetal_planes`` (brain planes do show a
head; the others must be refused).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from ..pipeline import FetalHeadPipeline


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * float(np.logical_and(a, b).sum()) / total


def _summary(values, digits: int = 4) -> dict:
    values = np.asarray(values, float)
    if len(values) == 0:
        return {}
    return {"mean": round(float(values.mean()), digits), "median": round(float(np.median(values)), digits),
            "p90": round(float(np.percentile(values, 90)), digits), "max": round(float(values.max()), digits)}


def end_to_end(pipeline, path: Path, pixel_size_mm=None):
    """What ``orthoai fetal`` does per still, short of writing files: read, run, encode the PNGs."""
    from ....io.pictures import png_bytes
    from ....io.ultrasound import read_still
    from ..pictures import heatmap_picture, mask_picture

    still = read_still(path, pixel_size_mm)
    result = pipeline.run(still.image)
    if result.head_found:
        png_bytes(mask_picture(result)), png_bytes(heatmap_picture(result, still.image.plane))
    return result


def heldout_stills(pipeline, limit=None, log=print) -> dict:
    from ..biometry import SHAPE_CLASSES, shape_class
    from ..calibration import OUTLINE_OFFSET_PX
    from .classifier import expert_ellipse
    from .hc18 import hc18_cases, load_mask, split

    cases = split(hc18_cases())[1][:limit]
    mask_dice, ellipse_dice, hc_errors, seconds, statuses = [], [], [], [], {}
    confusion = np.zeros((3, 3), int)
    ci_class_agreement = []
    for index, case in enumerate(cases):
        started = time.perf_counter()
        result = end_to_end(pipeline, case.image_path, case.pixel_size_mm)
        seconds.append(time.perf_counter() - started)
        statuses[result.status] = statuses.get(result.status, 0) + 1
        truth = load_mask(case.mask_path)
        truth_ellipse = expert_ellipse(truth)
        a, b = truth_ellipse.semi_axes_px
        truth_class = shape_class(100 * b / a)
        if not result.head_found:
            log(f"{case.name}: refused ({result.status})")
            continue
        mask_dice.append(dice(result.mask, truth))
        ellipse_dice.append(dice(result.measures.ellipse.grown(OUTLINE_OFFSET_PX).mask(truth.shape), truth))
        hc_errors.append(abs(result.measures.biometry.hc_mm - case.hc_mm))
        confusion[SHAPE_CLASSES.index(truth_class), SHAPE_CLASSES.index(result.shape_class)] += 1
        ci_class_agreement.append(result.measures.cephalic_index_class == truth_class)
        if index % 20 == 0:
            log(f"{index}/{len(cases)} {case.name}: dice {mask_dice[-1]:.4f}, HC error {hc_errors[-1]:.2f} mm")
    recalls = [confusion[i, i] / max(confusion[i].sum(), 1) for i in range(3)]
    return {
        "validation_stills": len(cases), "statuses": statuses,
        "dice_mask": _summary(mask_dice), "dice_ellipse": _summary(ellipse_dice),
        "hc_abs_error_mm": _summary(hc_errors, 3),
        "classifier": {"accuracy": round(float(np.trace(confusion) / max(confusion.sum(), 1)), 4),
                       "balanced_accuracy": round(float(np.mean(recalls)), 4), "classes": list(SHAPE_CLASSES),
                       "confusion_rows_truth_cols_predicted": confusion.tolist()},
        "cephalic_index_class_accuracy": round(float(np.mean(ci_class_agreement)), 4) if ci_class_agreement else None,
        "seconds_per_still": _summary(seconds, 3),
    }


def other_planes(pipeline, root: Path | None = None) -> dict:
    from .hc18 import hc18_dir

    root = root or hc18_dir().parent / "fetal_planes"
    table = root / "labels.csv"
    if not table.is_file():
        return {"skipped": f"{table} not found"}
    rows = list(csv.DictReader(table.open()))
    outcome = []
    for row in rows:
        result = end_to_end(pipeline, root / "images" / row["image"])
        outcome.append({"image": row["image"], "plane": row["plane"], "status": result.status,
                        "confidence": round(result.presence.confidence, 3) if result.presence else None,
                        "ellipse_fit": round(result.presence.ellipse_fit, 3) if result.presence else None})
    not_head = [o for o in outcome if o["plane"] != "Fetal brain"]
    brain = [o for o in outcome if o["plane"] == "Fetal brain"]
    return {"images": len(outcome), "not_head_planes": len(not_head),
            "not_head_refused": sum(o["status"] != "ok" for o in not_head),
            "brain_planes": len(brain), "brain_planes_measured": sum(o["status"] == "ok" for o in brain),
            "per_image": outcome}


def update_registry(report: dict, registry: Path | None = None) -> None:
    from ....runtime.registry import default_registry_path, write_registry_entry
    from ..pipeline import CLASSIFIER_ID, SEGMENTER_ID

    registry = registry or default_registry_path()
    models = {m["id"]: m for m in json.loads(Path(registry).read_text())["models"]}
    held, planes = report["hc18_validation"], report["other_planes"]
    segmenter = models[SEGMENTER_ID]
    segmenter["metrics"] = {**segmenter.get("metrics", {}), "hc18_validation_stills": held["validation_stills"],
                            "dice_mask_mean": held["dice_mask"].get("mean"), "dice_ellipse_mean": held["dice_ellipse"].get("mean"),
                            "hc_abs_error_mm_mean": held["hc_abs_error_mm"].get("mean"),
                            "hc_abs_error_mm_median": held["hc_abs_error_mm"].get("median"),
                            "statuses": held["statuses"], "seconds_per_still_mean_2core_cpu": held["seconds_per_still"].get("mean"),
                            "other_planes_not_head_refused": f"{planes.get('not_head_refused')}/{planes.get('not_head_planes')}",
                            "other_planes_brain_measured": f"{planes.get('brain_planes_measured')}/{planes.get('brain_planes')}"}
    classifier = models[CLASSIFIER_ID]
    classifier["metrics"] = {**classifier.get("metrics", {}), "pipeline_on_hc18_validation": held["classifier"]}
    write_registry_entry(registry, segmenter)
    write_registry_entry(registry, classifier)


def main(argv: list[str] | None = None) -> int:
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="only the first N validation stills")
    parser.add_argument("--update-registry", action="store_true")
    parser.add_argument("--registry", type=Path)
    args = parser.parse_args(argv)
    log = lambda line: print(line, file=sys.stderr)  # noqa: E731
    pipeline = FetalHeadPipeline()
    report = {"hc18_validation": heldout_stills(pipeline, args.limit, log), "other_planes": other_planes(pipeline)}
    print(json.dumps(report, indent=2))
    if args.update_registry:
        update_registry(report, args.registry)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
