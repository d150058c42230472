"""Held-out accuracy and speed of the hip keypoint pipeline, printed as JSON.

    orthoai hip-benchmark [--cases 200] [--update-registry]

Films come from seeds 1 000 000 onwards (training uses 0.., validation
500 000..), drawn at their own 0.1–0.2 mm spacing, written as DICOM and read
back, so every case runs the whole path a user's file takes: read,
preprocess, detect, refine, measure. Errors are in film millimetres;
measures are compared uncalibrated, as the keypoints give them.
"""

from __future__ import annotations

import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Optional

import numpy as np

from ..measures import MEASURE_KEYS, compute_hip_measures

BENCHMARK_SEED_START = 1_000_000
SOURCE_FIGURES = {"keypoint_error_mm_mean": 1.621, "abduction_deg": 1.449, "coverage_pct": 1.486,
                  "rc_vertical_offset_mm": 2.882, "rc_horizontal_offset_mm": 2.415}


def _stats(values) -> dict:
    values = np.asarray(values, dtype=float)
    return {"mean": round(float(values.mean()), 4), "p95": round(float(np.percentile(values, 95)), 4),
            "max": round(float(values.max()), 4)} if values.size else {}


def run_benchmark(cases: int = 200, detector=None, log=None) -> dict:
    from ..pipeline import HipPipeline
    from ..keypoint_pipeline import HipKeypointDetector
    from ....phantoms.pelvis_xray import make_pelvis_radiograph
    from ....io.radiograph import read_radiograph, write_radiograph_dicom

    pipeline = HipPipeline(detector=detector or HipKeypointDetector())
    point_errors: dict[str, list[float]] = {}
    measure_errors: dict[str, list[float]] = {key: [] for key in MEASURE_KEYS}
    flag_agree: dict[str, list[bool]] = {key: [] for key in MEASURE_KEYS}
    stage_times: dict[str, list[float]] = {}
    sides_right = refused_hips = total_hips = 0
    with tempfile.TemporaryDirectory() as folder:
        for index in range(cases):
            seed = BENCHMARK_SEED_START + index
            film = make_pelvis_radiograph(seed)
            path = write_radiograph_dicom(Path(folder) / "film.dcm", film.image, film.spacing_mm, bits_stored=film.bit_depth)
            started = time.perf_counter()
            radiograph = read_radiograph(path)
            read_seconds = time.perf_counter() - started
            case = pipeline.run(radiograph)
            measure_seconds = time.perf_counter() - started - read_seconds - case.timings_s["total"]
            for stage, seconds in {"read": read_seconds, **case.timings_s, "measure": measure_seconds}.items():
                stage_times.setdefault(stage, []).append(seconds)
            stage_times.setdefault("end_to_end", []).append(time.perf_counter() - started)
            found = {side.operated_side: side for side in case.sides}
            sides_right += int(set(found) == set(film.operated_sides))
            refused_hips += sum(side not in found for side in film.operated_sides)  # every film here has a cup
            total_hips += len(film.operated_sides)
            for side in film.operated_sides:
                if side not in found or found[side].measures is None:
                    continue
                truth_rc = film.keypoints_rc[side]
                for name, rc in truth_rc.items():
                    error = float(np.linalg.norm((found[side].points_rc[name] - rc) * film.spacing_mm))
                    point_errors.setdefault(name, []).append(error)
                truth = compute_hip_measures(film.keypoints_ras_for(side))
                measured = found[side].measures
                for key in MEASURE_KEYS:
                    measure_errors[key].append(abs(measured.value(key) - truth.value(key)))
                    flag_agree[key].append(measured.flags()[key] == truth.flags()[key])
            if log and (index + 1) % 20 == 0:
                log(json.dumps({"cases": index + 1, "mean_point_error_mm": round(float(np.mean(sum(point_errors.values(), []))), 3)}))
    all_points = sum(point_errors.values(), [])
    result = {
        "benchmark": "hip_keypoints_heldout",
        "cases": cases,
        "seeds": f"{BENCHMARK_SEED_START}-{BENCHMARK_SEED_START + cases - 1}",
        "operated_side_accuracy": round(sides_right / cases, 4),
        "operated_hips_refused": round(refused_hips / max(total_hips, 1), 4),
        "keypoint_error_mm": {"all": _stats(all_points), **{name: _stats(v) for name, v in point_errors.items()}},
        "measure_abs_error": {key: _stats(v) for key, v in measure_errors.items()},
        "flag_agreement": {key: round(float(np.mean(v)), 4) for key, v in flag_agree.items()},
        "seconds_per_radiograph": {stage: _stats(v) for stage, v in stage_times.items()},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "source_figures": SOURCE_FIGURES,
    }
    ours = {"keypoint_error_mm_mean": result["keypoint_error_mm"]["all"].get("mean", float("inf")),
            **{key: result["measure_abs_error"][key].get("mean", float("inf")) for key in MEASURE_KEYS}}
    result["beats_source"] = {key: ours[key] < SOURCE_FIGURES[key] for key in SOURCE_FIGURES}
    return result


def update_registry(result: dict, registry: Optional[Path] = None) -> None:
    """Write the held-out figures into the detector's and refiner's registry entries."""
    from ....runtime.registry import ModelRegistry, default_registry_path, write_registry_entry

    path = registry or default_registry_path()
    summary = {key: result[key] for key in ("cases", "seeds", "operated_side_accuracy", "operated_hips_refused", "keypoint_error_mm",
                                            "measure_abs_error", "flag_agreement", "beats_source")}
    summary["end_to_end_seconds_mean"] = result["seconds_per_radiograph"]["end_to_end"]["mean"]
    registry = ModelRegistry.load(path)
    # the figures are the pair's: each entry names the versions they were measured with
    summary["measured_with"] = {model_id: registry.get(model_id).version
                                for model_id in ("hip-keypoint-detector", "hip-keypoint-refiner")}
    for model_id in ("hip-keypoint-detector", "hip-keypoint-refiner"):
        entry = ModelRegistry.load(path).get(model_id).to_dict()
        entry["metrics"] = dict(entry.get("metrics", {}), heldout_benchmark=summary)
        write_registry_entry(path, entry)
