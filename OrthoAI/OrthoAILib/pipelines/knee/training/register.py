"""Ship the trained knee cartilage networks: copy them into the models folder and write their entries.

    python -m OrthoAILib.pipelines.knee.training.register [--stage1 out/knee/stage1] [--stage2 out/knee/stage2] [--fibula out/knee/fibula]

Only the runs given are registered (an entry edited by hand stays as it is unless its run is given).

Then run ``benchmark --update-registry`` for the end-to-end figures on test knees.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

NOT_CLINICAL = "Not a medical device; not for clinical use."
TRAINING_DATA = ("{maps} label maps: {generated} procedural knees (OrthoAILib.phantoms.knee_anatomy, seeds 0-{last}: femur, "
                 "tibia, patella, fibula, four cartilage plates of varied thickness with thinning and focal defects, "
                 "menisci, fluid, fat, muscle, skin; varied size, flexion, pose, left and right) and the real manual "
                 "label map of one OAI 3D-DESS knee (pymskt, MIT licence). Images synthesised from them with random "
                 "contrast, texture, blur, slice thickness, bias field, gamma and noise (SynthSeg approach; "
                 "OrthoAILib.phantoms.knee_mr). No real MR image with cartilage labels was trained on.")


def register(runs: dict, models_dir: Path, registry: Path) -> None:
    """Copy each run's model into the models folder and write its entry. ``runs``: {stage: its run
    folder} for any of 1, 2 and "fibula"; the others' entries are left as they are."""
    from ....runtime.export import reference_path
    from ....runtime.registry import next_version, write_registry_entry
    from ..pipeline import FIBULA_MODEL_ID, PLATES_MODEL_ID, REGION_MODEL_ID
    from ..preprocess import FINE_SPACING_MM, STAGE1_FACTOR
    from .networks import MODEL_FILES

    preprocessing = ("OrthoAILib.pipelines.knee.preprocess: resampled into the canonical sagittal orientation, N4 bias "
                     "field, normalised to the 0.5-99.5 percentiles")
    u_net = "residual 3-D U-Net (8-16-32-48; residual blocks with instance norm and LeakyReLU)"
    described = {
        1: (REGION_MODEL_ID, u_net, FINE_SPACING_MM * STAGE1_FACTOR, "knee cartilage segmentation and thickness on MR"),
        2: (PLATES_MODEL_ID, "MedicalNet-style 3-D ResNet encoder (basic residual blocks 8-16-32-48, stages 3-4 dilated) "
                             "with an ASPP decoder (rates 2, 4, 8 and global context) joined with half- and "
                             "full-resolution features", FINE_SPACING_MM,
            "knee cartilage segmentation and thickness on MR"),
        "fibula": (FIBULA_MODEL_ID, u_net, FINE_SPACING_MM * STAGE1_FACTOR,
                   "the tibia and fibula on knee MR, so the knee cartilage pipeline can tell the medial from the "
                   "lateral tibial plate"),
    }
    for stage, folder in runs.items():
        model_id, architecture, spacing, use = described[stage]
        summary = json.loads((folder / "training.json").read_text())
        for source in (folder / MODEL_FILES[stage], reference_path(folder / MODEL_FILES[stage])):
            shutil.copy2(source, models_dir / source.name)
        maps = summary["train_maps"]
        task_labels = {str(i): name for i, name in enumerate(summary["classes"])}
        metrics = {"validation_dice": dict(zip(list(task_labels.values())[1:], summary["validation_dice"])),
                   "validation": "3 held-out procedural knees (seeds 100000-100002), synthesised images; "
                                 + ("the cartilage crop on the 0.7 mm grid" if stage == 2 else "whole knee on the 2.8 mm grid"),
                   "best_step": summary["best_step"],
                   "training_minutes_2core_cpu": round(summary["log"][-1]["seconds"] / 60, 1)}
        for key in ("started_from", "classes_not_shipped"):
            if key in summary:
                metrics[key] = summary[key]
        write_registry_entry(registry, {
            "id": model_id, "version": next_version(registry, model_id, summary["files"]["sha256"]), "task": "segmentation",
            "file": MODEL_FILES[stage], **summary["files"],
            "input": {"dims": 3, "channels": 1, "units": "normalised MR intensity", "array_order": "channels-first, KJI spatial",
                      "spacing_mm": [spacing] * 3, "preprocessing": preprocessing},
            "labels": task_labels, "architecture": architecture,
            "licence": "Apache-2.0 (weights); training data generated here and one MIT-licensed label map",
            "training_data": TRAINING_DATA.format(maps=maps, generated=maps - 1, last=maps - 2),
            "metrics": metrics, "intended_use": f"Research: {use}. " + NOT_CLINICAL,
        })


def main(argv=None) -> int:
    from ....runtime.registry import default_registry_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage1", type=Path, help="stage 1's run folder")
    parser.add_argument("--stage2", type=Path, help="stage 2's run folder")
    parser.add_argument("--fibula", type=Path, help="the coarse bone network's run folder")
    args = parser.parse_args(argv)
    runs = {stage: folder for stage, folder in ((1, args.stage1), (2, args.stage2), ("fibula", args.fibula)) if folder}
    if not runs:
        parser.error("give at least one of --stage1, --stage2, --fibula")
    registry = default_registry_path()
    register(runs, registry.parent, registry)
    print(f"registered in {registry}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
