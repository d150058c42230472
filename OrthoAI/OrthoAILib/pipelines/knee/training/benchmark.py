"""Accuracy, speed and memory of the knee cartilage pipeline, printed as JSON.

    python -m OrthoAILib.pipelines.knee.training.benchmark [--knees 4] [--update-registry]

* Test knees: procedural knees from seeds 200000 upward (never trained on, never used to pick a
  checkpoint), on the OAI DESS grid (384×384×160, 0.365×0.365×0.7 mm), each with an MR image
  synthesised from it. Per plate: Dice, and the mean-thickness error (the same thickness method on
  the predicted and the true plate). End to end seconds and the process's peak resident memory.
* The real multi-echo T2 series (pymskt), when ``../shared/data`` is there: read, segmented, measured
  (no labels exist for it: what it gives is reported, not scored).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np

TEST_SEED0 = 200_000
PLATE_VALUES = {"femoral": 1, "tibial_medial": 2, "tibial_lateral": 3, "patellar": 4}
T2_SERIES = Path(__file__).resolve().parents[6] / "shared" / "data" / "knee" / "pymskt" / "MESE_T2_dicom_data_anon"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_knee(seed: int):
    from ....image import Image, ImageOrigin
    from ....phantoms.knee_anatomy import make_knee
    from ....phantoms.knee_mr import synthesise_mr

    knee = make_knee(seed)
    image = synthesise_mr(knee.labelmap, np.random.default_rng(seed)) * 1000  # scanner-like units
    return Image(image.astype(np.float32), knee.geometry, ImageOrigin(f"test knee {seed}", "MR")), knee.labelmap


def run(knees: int) -> dict:
    from ...knee.biomarkers import dice, measure_labelmap
    from ...knee.plates import DEFAULT_LABELS
    from ..pipeline import KneeCartilagePipeline

    began = time.perf_counter()
    pipeline = KneeCartilagePipeline()
    load_seconds = time.perf_counter() - began
    cases = []
    for seed in range(TEST_SEED0, TEST_SEED0 + knees):
        image, truth = test_knee(seed)
        started = time.perf_counter()
        result = pipeline.run(image)
        seconds = time.perf_counter() - started
        case = {"seed": seed, "status": result.status, "seconds": round(seconds, 1), "timings_s": result.timings_s}
        if result.labelmap is not None:
            true_measures = measure_labelmap(truth, image.geometry, DEFAULT_LABELS)
            case["dice"] = {p: round(dice(result.labelmap == v, truth == v), 4) for p, v in PLATE_VALUES.items()}
            case["thickness_error_mm"] = {}
            for plate in PLATE_VALUES:
                predicted = result.biomarkers.plates.get(plate)
                true = true_measures.plates.get(plate)
                if predicted is not None and true is not None and predicted.thickness_mm["mean"] is not None:
                    case["thickness_error_mm"][plate] = round(predicted.thickness_mm["mean"] - true.thickness_mm["mean"], 3)
        cases.append(case)
        print(json.dumps(case), flush=True)
    scored = [c for c in cases if "dice" in c]
    summary = {
        "test_knees": knees, "grid": "384x384x160, 0.365x0.365x0.7 mm (OAI DESS)",
        "segmented": len(scored),
        "dice_mean": {p: round(float(np.mean([c["dice"][p] for c in scored])), 4) for p in PLATE_VALUES} if scored else {},
        "thickness_abs_error_mm_mean": {p: round(float(np.mean([abs(c["thickness_error_mm"][p]) for c in scored
                                                                 if p in c["thickness_error_mm"]])), 3)
                                        for p in PLATE_VALUES} if scored else {},
        "seconds_per_knee_mean": round(float(np.mean([c["seconds"] for c in cases])), 1),
        "model_load_seconds": round(load_seconds, 2),
        "peak_resident_memory_mb": round(peak_rss_mb(), 0),
        "cases": cases,
    }
    if T2_SERIES.is_dir():
        summary["real_t2_series"] = real_series(pipeline)
    return summary


def real_series(pipeline) -> dict:
    from ....io.mr_series import read_mr

    started = time.perf_counter()
    image, notes = read_mr(sorted(str(p) for p in T2_SERIES.glob("*.dcm")), "MESE_T2 (pymskt)")
    result = pipeline.run(image)
    out = {"reading": list(notes), "status": result.status, "message": result.message,
           "seconds": round(time.perf_counter() - started, 1), "warnings": list(result.warnings)}
    if result.biomarkers is not None:
        out["plates"] = {name: {"volume_mm3": round(p.volume_mm3), "thickness_mean_mm": p.thickness_mm["mean"]}
                         for name, p in result.biomarkers.plates.items()}
    return out


def update_registry(summary: dict, registry: Path | None = None) -> None:
    from ....runtime.registry import default_registry_path, write_registry_entry
    from ..pipeline import PLATES_MODEL_ID, REGION_MODEL_ID

    registry = registry or default_registry_path()
    for entry in json.loads(Path(registry).read_text(encoding="utf-8"))["models"]:
        if entry["id"] in (REGION_MODEL_ID, PLATES_MODEL_ID):
            entry.setdefault("metrics", {})["test_knees_end_to_end"] = {k: v for k, v in summary.items() if k != "cases"}
            write_registry_entry(registry, entry)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--knees", type=int, default=4)
    parser.add_argument("--update-registry", action="store_true")
    args = parser.parse_args(argv)
    summary = run(args.knees)
    print(json.dumps({k: v for k, v in summary.items() if k != "cases"}, indent=2))
    if args.update_registry:
        update_registry(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
