"""Held-out accuracy and the end-to-end speed of the CT fracture pipeline (prints JSON).

    python -m OrthoAILib.pipelines.fracture.training.benchmark [--cases 20] [--speed] [--update-registry]

Accuracy on generated cases with seeds from 200 000 (never trained or validated on), each at its own
random acquisition grid: bone Dice per label on the case's grid; FROC (sensitivity at 0.5, 1, 2, 4, 8
false positives per scan; a hit when a finding's centre lies in a true box, as RibFrac scores) over
every finding the detector gives above 0.05, on bone; the score at 2 false positives per scan (the
operating point); classification accuracy and confusion matrix over the true lesions that were hit.

``--validation``: the same on the validation seeds (90 000+), whose score at 2 false positives per
scan is the pipeline's default threshold. ``--speed``: a 512×512×300 CT (0.8 × 0.8 × 1 mm) written as NIfTI and run through ``orthoai
fracture`` in a fresh process: wall time, the pipeline's stage timings and that process's peak memory
(``runtime.memory.run_measured``: not the benchmark's own). ``--memory``: resident memory after each
case of a batch going round three cases of different sizes, four times (flat after the first round
means no leak).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .data import TEST_SEED, VALIDATION_SEED

RATES = (0.5, 1, 2, 4, 8)


def accuracy(count: int, log=print, first_seed: int = TEST_SEED) -> dict:
    from ..bones import BONE_BY_VALUE
    from ..classes import CLASSES
    from ..evaluation import bone_dice, match_findings
    from ..pipeline import FractureOptions, FracturePipeline
    from ....runtime.memory import growth_per_case, resident_mb
    from .data import case_image

    pipeline = FracturePipeline()
    options = FractureOptions(score_threshold=0.05, max_findings=50)
    dice_per_bone: dict[int, list] = {}
    entries, truths_total, off_bone = [], 0, 0
    confusion = np.zeros((len(CLASSES), len(CLASSES)), int)
    bone_right, bone_total = 0, 0
    seconds, resident = [], []
    for seed in range(first_seed, first_seed + count):
        image, case = case_image(seed)
        started = time.perf_counter()
        result = pipeline.run(image, options)
        seconds.append(time.perf_counter() - started)
        resident.append(resident_mb())
        for value, d in bone_dice(result.bone_labels, case.labels).items():
            dice_per_bone.setdefault(value, []).append(d)
        truth = case.boxes_ras()
        boxes = np.array([list(f.box_ras_mm[0]) + list(f.box_ras_mm[1]) for f in result.findings]).reshape(-1, 6)
        truth_boxes = np.array([t["low_ras_mm"] + t["high_ras_mm"] for t in truth]).reshape(-1, 6)
        # boxes as (x0, y0, z0, x1, y1, z1): the centre-in-box rule needs no axis order
        scores = np.array([f.score for f in result.findings])
        matched = match_findings(boxes, scores, truth_boxes)
        entries += [(score, kind, seed) for score, kind in matched]
        truths_total += len(truth)
        off_bone += result.discarded_off_bone
        # the class and bone of the first (highest-scoring) finding on each true lesion
        for t_index, t in enumerate(truth):
            centres = (boxes[:, :3] + boxes[:, 3:]) / 2
            inside = np.all((centres >= truth_boxes[t_index, :3]) & (centres <= truth_boxes[t_index, 3:]), 1)
            hits = [i for i in np.argsort(-scores) if inside[i]]
            if not hits:
                continue
            finding = result.findings[hits[0]]
            confusion[CLASSES.index(t["class"]), CLASSES.index(finding.cls)] += 1
            bone_total += 1
            bone_right += int(finding.bone == BONE_BY_VALUE[t["bone"]].key)
        log(f"case {seed}: {len(truth)} true, {len(result.findings)} found, {seconds[-1]:.1f} s")
    entries.sort(key=lambda e: -e[0])
    curve, hits, false = [], 0, 0
    for score, kind, _ in entries:
        hits += kind == "hit"
        false += kind == "false"
        curve.append((false / count, hits / max(truths_total, 1), score))
    froc = {str(rate): round(max([s for fp, s, _ in curve if fp <= rate], default=0.0), 4) for rate in RATES}
    at_two = [score for fp, _, score in curve if fp <= 2.0]
    operating = round(float(min(at_two)), 3) if at_two else 0.5
    return {"cases": count, "seeds": [first_seed, first_seed + count - 1], "true_lesions": truths_total,
            "dice": {BONE_BY_VALUE[v].key: round(float(np.mean(d)), 4) for v, d in sorted(dice_per_bone.items())},
            "dice_mean": round(float(np.mean([np.mean(d) for d in dice_per_bone.values()])), 4),
            "froc_sensitivity": froc, "froc_mean": round(float(np.mean(list(froc.values()))), 4),
            "operating_score_at_2_fp": operating,
            "classification_accuracy": round(float(np.trace(confusion) / max(confusion.sum(), 1)), 4),
            "confusion": {"classes": list(CLASSES), "rows_true_columns_predicted": confusion.tolist()},
            "bone_label_accuracy_on_hits": round(bone_right / max(bone_total, 1), 4),
            "boxes_discarded_off_bone": off_bone, "seconds_per_case_mean": round(float(np.mean(seconds)), 2),
            # flat over the batch (no leak): resident memory after each case, and its slope past the first two
            "resident_mb_after_case": [round(m) for m in resident],
            "resident_growth_mb_per_case": round(growth_per_case(resident), 1)}


def speed(log=print) -> dict:
    """A 512×512×300 CT through ``orthoai fracture`` in a fresh process."""
    from ....phantoms.ct_case import make_ct_case

    case = make_ct_case(TEST_SEED + 999, spacing=(0.8, 0.8, 1.0), size_mm=(409.6, 409.6, 300.0), z_centre=250.0,
                        lesions=(3, 3))
    from ....io.volume import write_volume
    from ....runtime.memory import run_measured

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        path = write_volume(folder / "ct512.nii.gz", case.hu, case.geometry)
        log(f"wrote {path.name} {case.hu.shape[::-1]}")
        started = time.perf_counter()
        command = [sys.executable, "-m", "OrthoAILib.apps", "fracture", str(path), "--out", str(folder / "out"), "--no-scene"]
        completed, peak_mb = run_measured(command, capture_output=True, text=True, encoding="utf-8")
        wall = time.perf_counter() - started
        document = json.loads((folder / "out" / "ct512.fractures.json").read_text(encoding="utf-8")) if completed.returncode in (0, 1) else {}
    return {"shape_ijk": list(case.hu.shape[::-1]), "spacing_mm": list(case.geometry.spacing), "exit_code": completed.returncode,
            "wall_s_process": round(wall, 1), "pipeline_timings_s": document.get("timings_s"),
            "peak_memory_mb": round(peak_mb), "findings": len(document.get("fractures", [])),
            "true_lesions": len(case.lesions), "stderr_tail": completed.stderr[-300:] if completed.returncode not in (0, 1) else ""}


def memory_over_a_batch(seeds=(200006, 200011, 200015), rounds: int = 4) -> dict:
    """Resident memory after each case of a batch that goes round the same few cases of different sizes:
    after the first round a leak shows as growth, while the allocator's pool sized by the largest case
    stays put (over cases of rising size the resident memory rises without any leak)."""
    from ....runtime.memory import growth_per_case, resident_mb
    from ..pipeline import FractureOptions, FracturePipeline
    from .data import case_image

    pipeline = FracturePipeline()
    images = [case_image(seed)[0] for seed in seeds]
    resident = []
    for _ in range(rounds):
        for image in images:
            pipeline.run(image, FractureOptions(score_threshold=0.05, max_findings=50))
            resident.append(round(resident_mb()))
    return {"seeds": list(seeds), "rounds": rounds, "resident_mb_after_case": resident,
            "growth_mb_per_case_after_the_first_round": round(growth_per_case(resident, warm_up=len(seeds)), 1) + 0.0}  # no -0.0


def update_registry(result: dict, registry=None) -> None:
    """The held-out figures into the three models' registry entries (``metrics``)."""
    from ....runtime.registry import default_registry_path, write_registry_entry
    from ..pipeline import BONES_MODEL_ID, CLASSIFIER_MODEL_ID, DETECTOR_MODEL_ID

    registry = Path(registry or default_registry_path())
    acc = result["accuracy"]
    held_out = f"{acc['cases']} generated CTs, seeds {acc['seeds'][0]}-{acc['seeds'][1]}, random acquisition grids"
    figures = {BONES_MODEL_ID: {"held_out_dice": acc["dice"], "held_out_dice_mean": acc["dice_mean"]},
               DETECTOR_MODEL_ID: {"held_out_froc_sensitivity": acc["froc_sensitivity"],
                                   "operating_score_at_2_fp": acc["operating_score_at_2_fp"],
                                   "boxes_discarded_off_bone": acc["boxes_discarded_off_bone"]},
               CLASSIFIER_MODEL_ID: {"held_out_accuracy_on_hits": acc["classification_accuracy"],
                                     "held_out_confusion": acc["confusion"]}}
    if "speed" in result:
        figures[DETECTOR_MODEL_ID]["end_to_end_512x512x300"] = result["speed"]
    if "memory_over_a_batch" in result:
        figures[DETECTOR_MODEL_ID]["memory_over_a_batch"] = result["memory_over_a_batch"]
    for entry in json.loads(registry.read_text(encoding="utf-8"))["models"]:
        if entry["id"] in figures:
            entry.setdefault("metrics", {}).update({**figures[entry["id"]], "held_out": held_out})
            write_registry_entry(registry, entry)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--speed", action="store_true", help="also time a 512×512×300 CT end to end")
    parser.add_argument("--memory", action="store_true",
                        help="also: resident memory over a batch going round three cases of different sizes")
    parser.add_argument("--update-registry", action="store_true")
    parser.add_argument("--validation", action="store_true",
                        help="instead: the validation cases (seeds from 90000), for the operating point the default "
                             "score threshold is set to (never the test cases)")
    args = parser.parse_args(argv)
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    if args.validation:
        print(json.dumps({"validation": accuracy(args.cases, log, VALIDATION_SEED)}, indent=2))
        return 0
    result = {"accuracy": accuracy(args.cases, log)}
    if args.speed:
        result["speed"] = speed(log)
    if args.memory:
        result["memory_over_a_batch"] = memory_over_a_batch()
    print(json.dumps(result, indent=2))
    if args.update_registry:
        update_registry(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
