"""Ship the trained endoscopy models: copy them into the models folder and write their entries.

    python -m OrthoAILib.pipelines.endoscopy.training.register --depth out/endo/depth --segmenter out/endo/seg3 \\
        --ablation out/endo/seg-nodepth --same-budget out/endo/seg --between out/endo/seg2

Reads each training folder's ``training.json``, copies the TorchScript file and its reference
outputs, runs the SimCol3D check on the depth network and writes the registry entries (model cards).
Then run ``benchmark --update-registry`` (and with ``--segmenter <ablation file> --label no_depth``).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

NOT_CLINICAL = "Not a medical device; not for clinical use."
POLYPS = ("Kvasir-SEG (Jha et al., MMM 2020; research and education use) and CVC-ClinicDB (Bernal et al., 2015; "
          "research and education use): {kvasir} + {cvc} frames with expert polyp masks; validation frames (one Kvasir "
          "frame in five, every fifth CVC sequence) never trained on")


def _copy(training_dir: Path, models_dir: Path, file_name: str) -> dict:
    from ....runtime.export import reference_path

    summary = json.loads((training_dir / "training.json").read_text())
    for source in (training_dir / file_name, reference_path(training_dir / file_name)):
        shutil.copy2(source, models_dir / source.name)
    return summary


def register(depth_dir: Path, segmenter_dir: Path, ablation_dir: Path, models_dir: Path, registry: Path,
             same_budget_dir: Path | None = None, between_dirs: tuple[Path, ...] = ()) -> None:
    """``same_budget_dir``: when the shipped segmenter trained longer than the ablation (a run continued
    with ``--init``), the depth-guided run of the ablation's budget, so the comparison stays fair;
    ``between_dirs``: the runs continued between that one and the shipped one (their epochs count).

    The frame-level figures of the ablation's networks (``metrics.validation_frames``, measured by
    ``benchmark``) and the notes on the lesion rules are kept from the entry being replaced; the
    shipped segmenter's own figures are left out until ``benchmark --update-registry`` measures them."""
    import torch

    from ....runtime.registry import next_version, write_registry_entry
    from ..pipeline import DEPTH_ID, SEGMENTER_ID
    from ..preprocess import DEPTH_SIZE, SEG_SIZE
    from .depth import MODEL_FILE as DEPTH_FILE
    from .segmentation import MODEL_FILE as SEG_FILE
    from .simcol import evaluate as simcol

    depth = _copy(depth_dir, models_dir, DEPTH_FILE)
    seg = _copy(segmenter_dir, models_dir, SEG_FILE)
    ablation = json.loads((ablation_dir / "training.json").read_text())
    same_budget = json.loads((same_budget_dir / "training.json").read_text()) if same_budget_dir else seg
    between = [json.loads((folder / "training.json").read_text()) for folder in between_dirs]
    epochs = {"shipped": len(seg["log"]) + sum(len(run["log"]) for run in between)
              + (len(same_budget["log"]) if same_budget_dir else 0),
              "ablation_pair_each": len(ablation["log"])}
    simcol_figures = simcol(torch.jit.load(str(models_dir / DEPTH_FILE)).eval())
    write_registry_entry(registry, {
        "id": DEPTH_ID, "version": next_version(registry, DEPTH_ID, depth["files"]["sha256"]), "task": "depth", "file": DEPTH_FILE, **depth["files"],
        "input": {"dims": 2, "channels": 3, "units": "RGB 0-1, (value - 0.5) / 0.25", "patch_size": [DEPTH_SIZE, DEPTH_SIZE],
                  "preprocessing": "OrthoAILib.pipelines.endoscopy.preprocess (field of view crop, resize)"},
        "labels": {"0": "depth along the optical axis, cm (monocular: relative scale)"},
        "architecture": "global encoder-decoder on the frame pooled 4x + local two-level network at full grid, "
                        "superposed in log-depth, refined by a residual network",
        "licence": "Apache-2.0 (weights); training data rendered here",
        "training_data": f"{depth['train_renderings']} colon frames rendered by OrthoAILib.phantoms.colon_render (seeds "
                         "0 upward): bent tubes with haustral folds, sessile/flat/pedunculated polyps, fluid, light at the "
                         "camera with inverse-square fall-off, procedural mucosa with vessels, specular highlights, blur, "
                         "noise, endoscope borders. No real frame with true depth was trained on.",
        "metrics": {"rendered_validation_abs_log_error": depth["best_val_abs_log_error"],
                    "rendered_validation_frames": depth["validation_renderings"], "simcol3d": simcol_figures},
        "intended_use": "Research: relative depth of colonoscopy frames to guide lesion segmentation. " + NOT_CLINICAL,
    })
    earlier = next((m for m in json.loads(registry.read_text(encoding="utf-8"))["models"] if m["id"] == SEGMENTER_ID),
                   {}) if registry.exists() else {}
    kept = {key: value for key, value in earlier.get("metrics", {}).items() if key in ("validation_frames", "lesion_rules")}
    kept.get("validation_frames", {}).pop("depth_guided", None)  # the shipped network's own: measured anew
    write_registry_entry(registry, {
        "id": SEGMENTER_ID, "version": next_version(registry, SEGMENTER_ID, seg["files"]["sha256"]), "task": "segmentation",
        "file": SEG_FILE, **seg["files"],
        "input": {"dims": 2, "channels": 3, "units": "RGB 0-1, (value - 0.5) / 0.25; and the depth network's output (cm)",
                  "patch_size": [SEG_SIZE, SEG_SIZE],
                  "preprocessing": "OrthoAILib.pipelines.endoscopy.preprocess (field of view crop, resize)"},
        "labels": {"0": "background", "1": "lesion (polyp)"},
        "architecture": "U-Net encoder-decoder (16-32-64-128-160) whose features at four levels are weighted by 1 + "
                        "attention from a depth feature extractor (log-depth and its gradient magnitude); trained from "
                        "scratch with boundary-weighted BCE + IoU",
        "licence": "Apache-2.0 (weights); training data for research and education use only",
        "training_data": POLYPS.format(**seg["train_sources"]) + ". Augmented by flips, rotations, scale, crops, colour, "
                         "gamma and blur. No pretrained weights.",
        "metrics": {"validation_network_grid": seg["validation"], "best_epoch": seg["best_epoch"], "epochs": epochs,
                    "ablation_same_budget_network_grid": {"depth_guided": same_budget["validation"],
                                                          "without_depth": ablation["validation"]},
                    "ablation_note": "the same network and schedule with and without the depth branch "
                                     "(training/segmentation.py --no-depth), each trained for the same epochs; "
                                     + ("the shipped segmenter then continued from the depth-guided weights "
                                        "(--init). " if same_budget_dir else "")
                                     + "Frame-level figures under validation_frames", **kept},
        "intended_use": "Research on polyp segmentation in colonoscopy frames. " + NOT_CLINICAL,
    })


def main(argv: list[str] | None = None) -> int:
    from ....runtime.registry import default_registry_path, shipped_models_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=Path, required=True)
    parser.add_argument("--segmenter", type=Path, required=True)
    parser.add_argument("--ablation", type=Path, required=True)
    parser.add_argument("--same-budget", type=Path, default=None,
                        help="the depth-guided run with the ablation's budget, when --segmenter trained longer")
    parser.add_argument("--between", type=Path, nargs="*", default=(),
                        help="runs continued (--init) between --same-budget and --segmenter, in order")
    parser.add_argument("--models-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    models_dir = args.models_dir or shipped_models_dir()
    register(args.depth, args.segmenter, args.ablation, models_dir,
             models_dir / "Models.json" if args.models_dir else default_registry_path(), args.same_budget,
             tuple(args.between))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
