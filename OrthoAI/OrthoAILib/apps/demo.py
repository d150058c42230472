"""The demo: automatic hip keypoints and measures on a generated AP pelvis film, end to end.

A synthetic post-operative film (right THA, drawn at its own 0.1–0.2 mm
spacing, with the true keypoints known) is written as a DICOM file, then goes
through exactly what ``orthoai hip`` does to a user's file: read, preprocess,
detect, refine, measure, write. The output folder holds:

* ``input/ap_pelvis.dcm`` — the generated film;
* ``ap_pelvis.mrb`` — a Slicer scene bundle: the film under a study, the
  detected landmarks (editable, with the model's positions kept for reset),
  the four lines and the measure table; it opens on the image and the table;
* ``ap_pelvis.png`` — the slice view rendered off-screen by Slicer's view logic;
* ``ap_pelvis.mrk.json``, ``ap_pelvis.measures.json``, ``hip_measures.csv``;
* ``hip_demo_report.json`` — the measures, and the detector's error against
  the true keypoints (mm) and true measures.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

DEMO_SEED = 7
DEMO_STEM = "ap_pelvis"


def run_hip_demo(out_dir: str | Path, seed: int = DEMO_SEED, calibrate: bool = True) -> dict:
    from ..io.radiograph import write_radiograph_dicom
    from ..io.reports import write_json
    from ..phantoms.pelvis_xray import make_pelvis_radiograph
    from ..pipelines.hip.measures import MEASURE_KEYS, compute_hip_measures
    from .batch import run_batch
    from .hip import HipJob

    out_dir = Path(out_dir)
    (out_dir / "input").mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    film = make_pelvis_radiograph(seed, operated="right")
    source = write_radiograph_dicom(out_dir / "input" / f"{DEMO_STEM}.dcm", film.image, film.spacing_mm,
                                    bits_stored=film.bit_depth)
    cup_diameter = round(film.cup_diameter_mm, 1) if calibrate else None
    summary = run_batch(HipJob(cup_diameter_mm=cup_diameter), source, out_dir, log=lambda line: None, keep_results=True)
    (outcome,) = summary.outcomes
    if outcome.failed:
        raise RuntimeError(f"the demo film failed: {outcome.message}")
    side = outcome.result.sides[0]  # the pipeline's own result, handed on as an object
    truth_ras = film.keypoints_ras_for(side.operated_side)  # the film's geometry is the one the command uses
    errors = {name: round(float(np.linalg.norm(side.points_ras[name] - truth_ras[name])), 3) for name in truth_ras}
    measures = side.measures.to_json_dict()
    report = {
        "measures": {key: measures[key] for key in (*MEASURE_KEYS, "flags", "calibrated")},
        "operated_side": side.operated_side,
        "true_operated_sides": list(film.operated_sides),
        "true_measures": compute_hip_measures(truth_ras, cup_diameter).to_json_dict(),
        "keypoint_error_mm": errors,
        "keypoint_error_mm_mean": round(float(np.mean(list(errors.values()))), 3),
        "cup_diameter_mm": cup_diameter,
        "film": {"seed": seed, "pixel_spacing_mm": round(film.spacing_mm, 4), "shape": list(film.image.shape),
                 "magnification": round(film.magnification, 4)},
        "seconds": round(time.perf_counter() - started, 2),
        "files": {"input": str(source), "scene": str(out_dir / f"{DEMO_STEM}.mrb"),
                  "picture": str(out_dir / f"{DEMO_STEM}.png"), "landmarks": str(out_dir / f"{DEMO_STEM}.mrk.json"),
                  "measures": str(out_dir / f"{DEMO_STEM}.measures.json"), "table": str(summary.csv_path)},
    }
    report_path = out_dir / "hip_demo_report.json"
    report["files"]["report"] = str(report_path)
    write_json(report_path, report)
    return report
