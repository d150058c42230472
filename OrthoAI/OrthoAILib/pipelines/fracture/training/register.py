"""Ship the trained CT fracture networks: copy them into the models folder and write their entries.

    python -m OrthoAILib.pipelines.fracture.training.register --runs out/fracture [--nets bones]

(``--runs`` holds the ``bones``, ``detector`` and ``classifier`` training folders; ``--nets`` registers
only those, and leaves the others' entries as they are.) Then run ``benchmark --update-registry`` for
the held-out figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

NOT_CLINICAL = "Not a medical device; not for clinical use."
TRAINING_DATA = ("{cases} generated torso CTs (OrthoAILib.phantoms.ct_case, seeds 10000-{last}): a procedural skeleton "
                 "(ribs, vertebrae, sacrum, hip bones, femora, sternum, clavicles, scapulae, humeri, forearms, skull base; "
                 "random size, spine curvature, arm position) with cortical shell and textured trabecular bone, soft "
                 "tissue, fat, lungs with vessels, bowel gas, aorta with or without contrast, table; inserted fresh "
                 "(gap, displacement, comminution), old (callus, sclerotic band), post-operative (plate and screws or "
                 "nail, metal streaks), suspected (hairline, partial) fractures and lytic or sclerotic lesions, each with "
                 "its true box; random acquisition grid (in-plane 1.1-2 mm, slices 1.25-3 mm), blur and noise. No real "
                 "CT was trained on.")
PREPROCESSING = ("OrthoAILib.pipelines.fracture.preprocess: resampled (block-averaged, then linear) onto the canonical axial "
                 "grid (columns to the patient's left, rows posterior, slices superior); HU clipped to -1000..3000, /1000")


def register(runs: Path, models_dir: Path, registry: Path, nets=None) -> None:
    from ....runtime.export import reference_path
    from ....runtime.registry import next_version, write_registry_entry
    from ..bones import BONES
    from ..classes import CLASSES
    from ..pipeline import BONES_MODEL_ID, CLASSIFIER_MODEL_ID, DETECTOR_MODEL_ID
    from ..preprocess import BONE_SPACING_MM, DETECT_SPACING_MM
    from .networks import MODEL_FILES

    summaries = {}
    for net in nets or MODEL_FILES:
        summaries[net] = json.loads((runs / net / "training.json").read_text(encoding="utf-8"))
        for source in (runs / net / MODEL_FILES[net], reference_path(runs / net / MODEL_FILES[net])):
            shutil.copy2(source, models_dir / source.name)
    cases = max(s["train_cases"] for s in summaries.values())
    training_data = TRAINING_DATA.format(cases=cases, last=10000 + cases - 1)
    specs = {
        "bones": (BONES_MODEL_ID, "segmentation", {"0": "background", **{str(b.value): b.key for b in BONES}},
                  "residual 3-D U-Net (10-20-40-64; residual blocks with instance norm and LeakyReLU; transposed-convolution "
                  "up-sampling into residual blocks)", BONE_SPACING_MM, "validation_dice"),
        "detector": (DETECTOR_MODEL_ID, "detection", {"0": "fracture or lesion"},
                     "FCOS 3-D (anchor-free: per-location fracture logit, centre-ness, distances to the six box faces) on a "
                     "3-D ResNet-50 layout (bottleneck blocks 3-4-6-3, widths 8-16-32-48, expansion 4) with a feature "
                     "pyramid at strides 4, 8, 16, 32", DETECT_SPACING_MM, "validation_froc"),
        "classifier": (CLASSIFIER_MODEL_ID, "classification", {str(i): c for i, c in enumerate(CLASSES)},
                       "3-D ResNet-34 layout (basic blocks 3-4-6-3, widths 12-24-32-48) on a 32³ patch (64 mm) round the "
                       "finding; stages 2-4 each followed by multi-head self-attention (4 heads) over their voxels and "
                       "average pooling, joined into a fully connected head", DETECT_SPACING_MM, "validation_accuracy"),
    }
    for net, summary in summaries.items():
        model_id, task, labels, architecture, spacing, metric = specs[net]
        best = summary["best"]
        value = {"bones": best.get("dice"), "detector": best.get("froc"), "classifier": best.get("accuracy")}[net]
        metrics = {metric: value, "validation": f"{summary['validation_cases']} held-out generated CTs (seeds from 90000)",
                   "best_step": best["step"], "training_minutes_2core_cpu": round(summary["log"][-1]["seconds"] / 60, 1)}
        if net == "classifier":
            metrics["validation_confusion"] = best.get("confusion")
        write_registry_entry(registry, {
            "id": model_id, "version": next_version(registry, model_id, summary["files"]["sha256"]), "task": task, "file": MODEL_FILES[net], **summary["files"],
            "input": {"dims": 3, "channels": 1, "units": "HU / 1000, clipped -1..3", "array_order": "channels-first, KJI spatial",
                      "spacing_mm": [spacing] * 3, "preprocessing": PREPROCESSING},
            "labels": labels, "architecture": architecture, "licence": "Apache-2.0 (weights); training data generated here",
            "training_data": training_data, "metrics": metrics,
            "intended_use": "Research: fracture detection and bone labels on CT. " + NOT_CLINICAL,
        })


def main(argv=None) -> int:
    from ....runtime.registry import default_registry_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--nets", nargs="+", choices=["bones", "detector", "classifier"], default=None,
                        help="register only these (default: all three)")
    args = parser.parse_args(argv)
    registry = default_registry_path()
    register(args.runs, registry.parent, registry, args.nets)
    print(f"registered in {registry}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
