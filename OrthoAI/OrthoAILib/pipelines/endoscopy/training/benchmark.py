"""Accuracy of the endoscopy pipeline on the validation frames, through the path a user's file takes.

    python -m OrthoAILib.pipelines.endoscopy.training.benchmark [--segmenter FILE --label no_depth] [--update-registry]

Per source (Kvasir-SEG random frames, CVC-ClinicDB whole sequences; never trained on): mean Dice
and IoU per frame at the frame's own size, lesions per frame that touch no true polyp (false
positives), true polyps (connected regions) that no lesion touches (misses), and seconds per frame.
``--segmenter`` runs another segmenter file in the same pipeline (the ablation without depth), and
``--update-registry`` stores the figures under ``metrics.validation[label]`` of the segmenter's entry.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Optional

import numpy as np


def evaluate(pipeline, cases) -> dict:
    from scipy import ndimage

    from ....io.endoscopy_frames import read_frame
    from .polyps import load_case

    per_source: dict[str, dict[str, list]] = {}
    for case in cases:
        _, truth = load_case(case)
        started = time.perf_counter()
        result = pipeline.run(read_frame(case.image_path))
        seconds = time.perf_counter() - started
        predicted = result.mask if result.mask is not None else np.zeros(truth.shape, bool)
        inter, total = int((predicted & truth).sum()), int(predicted.sum() + truth.sum())
        labels, count = ndimage.label(truth)
        missed = sum(1 for index in range(1, count + 1) if not predicted[labels == index].any())
        false = sum(1 for lesion in result.lesions if not truth[lesion_pixels(result, lesion)].any())
        s = per_source.setdefault(case.source, {k: [] for k in ("dice", "iou", "false", "missed", "polyps", "seconds",
                                                                 "refused")})
        s["dice"].append(1.0 if total == 0 else 2 * inter / total)
        s["iou"].append(1.0 if total == 0 else inter / (total - inter))
        s["false"].append(false), s["missed"].append(missed), s["polyps"].append(count)
        s["seconds"].append(seconds), s["refused"].append(result.status != "ok")
    return {source: {"frames": len(s["dice"]), "dice": round(float(np.mean(s["dice"])), 4),
                     "iou": round(float(np.mean(s["iou"])), 4),
                     "dice_median": round(float(np.median(s["dice"])), 4),
                     "false_lesions_per_frame": round(float(np.mean(s["false"])), 4),
                     "missed_polyps": int(np.sum(s["missed"])), "true_polyps": int(np.sum(s["polyps"])),
                     "refused_frames": int(np.sum(s["refused"])),
                     "seconds_per_frame": round(float(np.mean(s["seconds"])), 4)}
            for source, s in per_source.items()}


def lesion_pixels(result, lesion) -> np.ndarray:
    """The frame-sized mask of one lesion of a result (the lesion's box, cut to the result's mask)."""
    top, left, bottom, right = lesion.box
    region = np.zeros(result.mask.shape, bool)
    region[top:bottom, left:right] = result.mask[top:bottom, left:right]
    return region


def run_benchmark(segmenter: Optional[Path] = None, limit: Optional[int] = None) -> dict:
    import torch

    from ..pipeline import EndoscopyPipeline
    from .polyps import polyp_cases, split

    pipeline = EndoscopyPipeline()
    if segmenter is not None:
        pipeline.use_segmenter(torch.jit.load(str(segmenter)).eval())
    _, validation = split(polyp_cases())
    return evaluate(pipeline, validation[:limit] if limit else validation)


def update_registry(figures: dict, label: str, registry: Optional[Path] = None) -> None:
    from ....runtime.registry import default_registry_path, write_registry_entry
    from ..pipeline import SEGMENTER_ID

    registry = registry or default_registry_path()
    entry = next(m for m in json.loads(Path(registry).read_text())["models"] if m["id"] == SEGMENTER_ID)
    entry.setdefault("metrics", {}).setdefault("validation_frames", {})[label] = figures
    write_registry_entry(registry, entry)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segmenter", type=Path, help="another segmenter file (e.g. the ablation without depth)")
    parser.add_argument("--label", default="depth_guided", help="name of these figures in the registry")
    parser.add_argument("--limit", type=int, help="only the first N validation frames")
    parser.add_argument("--update-registry", action="store_true")
    args = parser.parse_args(argv)
    figures = run_benchmark(args.segmenter, args.limit)
    print(json.dumps({args.label: figures}, indent=2))
    if args.update_registry:
        update_registry(figures, args.label)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
