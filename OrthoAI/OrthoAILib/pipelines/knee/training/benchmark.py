"""Accuracy, speed and memory of the knee cartilage pipeline, printed as JSON.

    python -m OrthoAILib.pipelines.knee.training.benchmark [--knees 4] [--update-registry]

* Test knees: procedural knees from seeds 200000 upward (never trained on, never used to pick a
  checkpoint), on the OAI DESS grid (384×384×160, 0.365×0.365×0.7 mm), each with an MR image
  synthesised from it, written as NIfTI and run through ``orthoai knee`` in a child process. Per
  plate: Dice, and the mean-thickness error (the same thickness method on the predicted and the true
  plate); whether the two tibial plates were put on their own sides of the knee, and which rule
  decided (``sides.tibial_sides``). The pipeline's seconds per knee and the command's peak resident
  memory.
* The real multi-echo T2 series (pymskt), when ``../shared/data`` is there: read, segmented, measured
  (no labels exist for it: what it gives is reported, not scored).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ..plates import DEFAULT_LABELS

TEST_SEED0 = 200_000
PLATE_VALUES = {plate: values[0] for plate, values in DEFAULT_LABELS.items()}  # the pipeline's output values
T2_SERIES = Path(__file__).resolve().parents[6] / "shared" / "data" / "knee" / "pymskt" / "MESE_T2_dicom_data_anon"


def test_knee(seed: int):
    """(MR image in scanner-like units, true labelmap, geometry) of a test knee on the DESS grid."""
    from ....phantoms.knee_anatomy import make_knee
    from ....phantoms.knee_mr import synthesise_mr

    knee = make_knee(seed)
    image = synthesise_mr(knee.labelmap, np.random.default_rng(seed)) * 1000
    return image.astype(np.float32), knee.labelmap, knee.geometry


def run(knees: int, workdir: Path) -> dict:
    """Test knees written as NIfTI, then ``orthoai knee`` on them in a child process (its peak memory
    is the pipeline's alone), then its files scored against the truth."""
    import sys

    import SimpleITK as sitk

    from ....runtime.memory import run_measured

    from ...knee.biomarkers import dice, measure_labelmap
    from ..preprocess import to_sitk

    inputs, out = workdir / "inputs", workdir / "out"
    inputs.mkdir(parents=True)
    truths = {}
    for seed in range(TEST_SEED0, TEST_SEED0 + knees):
        image, truth, geometry = test_knee(seed)
        sitk.WriteImage(to_sitk(image, geometry), str(inputs / f"knee{seed}.nii.gz"))
        truths[f"knee{seed}"] = (truth, geometry)
    began = time.perf_counter()
    completed, peak_mb = run_measured([sys.executable, "-m", "OrthoAILib.apps", "knee", str(inputs), "--out", str(out),
                                       "--no-maps"], capture_output=True, text=True, encoding="utf-8")
    wall = time.perf_counter() - began
    cases = []
    for name, (truth, geometry) in truths.items():
        document = json.loads((out / f"{name}.biomarkers.json").read_text(encoding="utf-8"))
        case = {"name": name, "status": document["status"], "seconds": document.get("timings_s", {}).get("total"),
                "tibial_sides_by": document.get("tibial_sides", {}).get("decided_by")}
        labels_path = out / f"{name}.cartilage.nii.gz"
        if labels_path.exists():
            predicted = sitk.GetArrayFromImage(sitk.ReadImage(str(labels_path)))
            case["dice"] = {p: round(dice(predicted == v, truth == v), 4) for p, v in PLATE_VALUES.items()}
            case["tibial_sides_right"] = tibial_sides_right(predicted, truth)
            true_plates = measure_labelmap(truth, geometry, DEFAULT_LABELS).plates
            case["thickness_error_mm"] = {
                p: round(document["plates"][p]["thickness_mm"]["mean"] - true_plates[p].thickness_mm["mean"], 3)
                for p in PLATE_VALUES if p in document["plates"] and p in true_plates
                and document["plates"][p]["thickness_mm"]["mean"] is not None}
        cases.append(case)
    scored = [c for c in cases if "dice" in c]
    return {
        "test_knees": knees, "grid": "384x384x160, 0.365x0.365x0.7 mm (OAI DESS), seeds 200000+",
        "segmented": len(scored),
        "dice_mean": {p: round(float(np.mean([c["dice"][p] for c in scored])), 4) for p in PLATE_VALUES} if scored else {},
        "tibial_sides_right": sum(bool(c["tibial_sides_right"]) for c in scored),
        "tibial_sides_by": {rule: sum(str(c["tibial_sides_by"]) == rule for c in scored)
                            for rule in sorted({str(c["tibial_sides_by"]) for c in scored})},
        "thickness_abs_error_mm_mean": {p: _mean_or_none([abs(c["thickness_error_mm"][p]) for c in scored
                                                          if p in c["thickness_error_mm"]]) for p in PLATE_VALUES},
        "pipeline_seconds_per_knee_mean": round(float(np.mean([c["seconds"] for c in cases if c["seconds"]])), 1),
        "command_wall_seconds": round(wall, 1), "command_exit_code": completed.returncode,
        "command_peak_resident_memory_mb": round(peak_mb),
        "cases": cases,
    }


def tibial_sides_right(predicted: np.ndarray, truth: np.ndarray) -> bool | None:
    """Whether the medial and lateral tibial plates were put on their own sides: each predicted plate
    overlaps its own true plate more than the other side's (None when either is missing)."""
    medial, lateral = PLATE_VALUES["tibial_medial"], PLATE_VALUES["tibial_lateral"]
    overlap = {(p, t): int(((predicted == p) & (truth == t)).sum()) for p in (medial, lateral) for t in (medial, lateral)}
    if not all((predicted == v).any() and (truth == v).any() for v in (medial, lateral)):
        return None
    return overlap[medial, medial] + overlap[lateral, lateral] > overlap[medial, lateral] + overlap[lateral, medial]


def _mean_or_none(values: list) -> float | None:
    return round(float(np.mean(values)), 3) if values else None


def real_series() -> dict:
    from ....io.mr_series import read_mr
    from ..pipeline import KneeCartilagePipeline

    started = time.perf_counter()
    image, notes = read_mr(sorted(str(p) for p in T2_SERIES.glob("*.dcm")), "MESE_T2 (pymskt)")
    result = KneeCartilagePipeline().run(image)
    out = {"reading": list(notes), "status": result.status, "message": result.message,
           "seconds": round(time.perf_counter() - started, 1), "warnings": list(result.warnings),
           "tibial_sides": result.tibial_sides}
    if result.biomarkers is not None:
        out["plates"] = {name: {"volume_mm3": round(p.volume_mm3), "thickness_mean_mm": p.thickness_mm["mean"]}
                         for name, p in result.biomarkers.plates.items()}
    return out


def update_registry(summary: dict, registry: Path | None = None) -> None:
    from ....runtime.registry import default_registry_path, write_registry_entry
    from ..pipeline import FIBULA_MODEL_ID, PLATES_MODEL_ID, REGION_MODEL_ID

    registry = registry or default_registry_path()
    for entry in json.loads(Path(registry).read_text(encoding="utf-8"))["models"]:
        if entry["id"] in (REGION_MODEL_ID, PLATES_MODEL_ID, FIBULA_MODEL_ID):
            entry.setdefault("metrics", {})["test_knees_end_to_end"] = {k: v for k, v in summary.items() if k != "cases"}
            write_registry_entry(registry, entry)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--knees", type=int, default=4)
    parser.add_argument("--update-registry", action="store_true")
    args = parser.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        summary = run(args.knees, Path(folder))
    if T2_SERIES.is_dir():
        summary["real_t2_series"] = real_series()
    print(json.dumps(summary, indent=2))
    if args.update_registry:
        update_registry(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
