"""Ship the trained fetal head models: copy them into the models folder and write their entries.

    python -m OrthoAILib.pipelines.fetal.training.register --segmenter out/fetal-seg --classifier out/fetal-cls

Reads each training folder's ``training.json`` (files, validation figures), copies the
TorchScript file and its reference outputs, and writes the registry entries (model cards).
Run ``presence_calibration --update-registry`` and ``benchmark --update-registry`` after it.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

HC18 = ("HC18 challenge training set (van den Heuvel et al., PLoS ONE 2018, CC BY 4.0): {n} stills of the "
        "training subjects (subject number not divisible by 5; the validation subjects are never trained on)")
NOT_CLINICAL = "Not a medical device; not for clinical use."


def _copy(training_dir: Path, models_dir: Path, file_name: str) -> dict:
    from ....runtime.export import reference_path

    summary = json.loads((training_dir / "training.json").read_text())
    for source in (training_dir / file_name, reference_path(training_dir / file_name)):
        shutil.copy2(source, models_dir / source.name)
    return summary


def register(segmenter_dir: Path, classifier_dir: Path, models_dir: Path, registry: Path) -> None:
    from ....runtime.registry import write_registry_entry
    from ..biometry import SHAPE_CLASSES
    from ..crop import CROP_SIZE
    from ..pipeline import CLASSIFIER_ID, SEGMENTER_ID
    from ..preprocess import NET_SHAPE
    from .classifier import MODEL_FILE as CLASSIFIER_FILE
    from .segmentation import MODEL_FILE as SEGMENTER_FILE

    seg = _copy(segmenter_dir, models_dir, SEGMENTER_FILE)
    cls = _copy(classifier_dir, models_dir, CLASSIFIER_FILE)
    old = {m["id"]: m for m in json.loads(registry.read_text())["models"]} if registry.exists() else {}
    write_registry_entry(registry, {
        **{k: v for k, v in old.get(SEGMENTER_ID, {}).items() if k == "presence"},
        "id": SEGMENTER_ID, "version": "1.0.0", "task": "segmentation", "file": SEGMENTER_FILE, **seg["files"],
        "input": {"dims": 2, "channels": 1, "units": "grey levels, zero mean and unit spread per still",
                  "patch_size": list(NET_SHAPE),
                  "preprocessing": "OrthoAILib.pipelines.fetal.preprocess (box-reduce, letterbox to 160x240, normalise)"},
        "labels": {"0": "background", "1": "fetal head (skull section, filled)"},
        "architecture": "2-D U-Net, widths 16-32-64-96-128, transposed-convolution up-sampling, batch norm",
        "licence": "Apache-2.0 (weights); training data CC BY 4.0",
        "training_data": HC18.format(n=seg["train_cases"]) + "; augmented by rotation up to 30 degrees, scale 0.8-1.25, "
                         "flips, shifts, zooms leaving part of the head, gain, gamma, blur and speckle; 5 % pure speckle "
                         "stills with empty masks.",
        "metrics": {"validation_dice_network_grid": seg["best_val_dice_network_grid"],
                    "validation_stills": seg["validation_cases"]},
        "training_schedule": seg.get("schedule", "see training/segmentation.py"),
        "intended_use": "Research on fetal head biometry from trans-thalamic ultrasound stills. " + NOT_CLINICAL,
    })
    validation = cls["validation"]
    write_registry_entry(registry, {
        "id": CLASSIFIER_ID, "version": "1.0.0", "task": "classification", "file": CLASSIFIER_FILE, **cls["files"],
        "input": {"dims": 2, "channels": 1, "units": "CLAHE-enhanced grey levels, zero mean and unit spread",
                  "patch_size": [CROP_SIZE, CROP_SIZE],
                  "preprocessing": "OrthoAILib.pipelines.fetal.crop (square around the head ellipse, 1.15 margin, CLAHE)"},
        "labels": {str(i): name for i, name in enumerate(SHAPE_CLASSES)},
        "architecture": "4-stage CNN (16-32-64-128) with a 3-layer fully connected head; returns logits and the last "
                        "feature maps for Grad-CAM",
        "licence": "Apache-2.0 (weights); training data CC BY 4.0",
        "training_data": HC18.format(n=cls["train_cases"]) + ". Labels are derived, not diagnosed: the cephalic index "
                         "of each still's expert ellipse, classed by Hadlock's thresholds (dolichocephalic below 74 %, "
                         "brachycephalic above 83 %; AJR 1981;137:83-85). Class counts in training: "
                         + ", ".join(f"{n} {c}" for n, c in zip(SHAPE_CLASSES, cls["train_class_counts"]))
                         + ". No set of fetal anomalies with labels was available; this model classifies head shape only.",
        "metrics": {"validation_on_expert_crops": validation},
        "intended_use": "Research: head-shape class of a fetal head crop, with a Grad-CAM heatmap. " + NOT_CLINICAL,
    })


def main(argv: list[str] | None = None) -> int:
    from ....runtime.registry import default_registry_path, shipped_models_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segmenter", type=Path, required=True)
    parser.add_argument("--classifier", type=Path, required=True)
    parser.add_argument("--models-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    models_dir = args.models_dir or shipped_models_dir()
    register(args.segmenter, args.classifier, models_dir, models_dir / "Models.json" if args.models_dir else default_registry_path())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
