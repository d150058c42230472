"""Check the depth network on SimCol3D's frames with true depth (L1, RMSE in cm after a scale fit).

    python -m OrthoAILib.pipelines.endoscopy.training.simcol [--model out/endo/depth/endoscopy_depth.pt]

As the SimCol3D challenge scores it: one least-squares scale for the sequence (``s = Σ p·t / Σ p²``
over every pixel of the ten frames), then L1 and RMSE in cm and the median relative error. The
figures with one scale per frame, and with no scale at all (the network's own centimetres), are
given too. Frames go through the pipeline's own preprocessing; the estimate is compared at the
frames' full size, inside the field of view.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Optional

import numpy as np

DEPTH_SCALE_CM = 20.0 / 255 / 256  # SimCol3D: depth in cm = value / 255 / 256 × 20


def simcol_dir() -> Path:
    from .polyps import polyp_root

    return polyp_root().parent / "endoscopy" / "simcol3d"


def load_simcol(folder: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    from PIL import Image

    pairs = []
    for frame in sorted(folder.glob("FrameBuffer_*.png")):
        with Image.open(frame) as picture:
            rgb = np.asarray(picture.convert("RGB"))
        with Image.open(frame.with_name(frame.name.replace("FrameBuffer", "Depth"))) as picture:
            depth = np.asarray(picture, dtype=np.float64) * DEPTH_SCALE_CM
        pairs.append((rgb, depth))
    return pairs


def _scores(predicted: np.ndarray, truth: np.ndarray, scale: float) -> dict:
    error = scale * predicted - truth
    return {"l1_cm": round(float(np.abs(error).mean()), 4), "rmse_cm": round(float(np.sqrt((error ** 2).mean())), 4),
            "median_relative_error": round(float(np.median(np.abs(error) / np.maximum(truth, 1e-3))), 4)}


def evaluate(depth_model, folder: Optional[Path] = None) -> dict:
    import torch

    from ..preprocess import prepare

    pairs = load_simcol(folder or simcol_dir())
    if not pairs:
        raise FileNotFoundError(f"no SimCol3D frames in {folder or simcol_dir()}")
    predictions, truths, per_frame = [], [], []
    for rgb, truth in pairs:
        prepared = prepare(rgb.astype(np.float32) / 255)
        with torch.no_grad():
            grid = depth_model(torch.from_numpy(prepared.depth_input)[None])[0, 0].numpy()
        predicted = prepared.frame_map.to_frame(grid)
        inside = prepared.field & (truth > 0)
        p, t = predicted[inside].astype(np.float64), truth[inside]
        predictions.append(p), truths.append(t)
        per_frame.append(_scores(p, t, float(p @ t / (p @ p))))
    p, t = np.concatenate(predictions), np.concatenate(truths)
    scale = float(p @ t / (p @ p))
    return {"frames": len(pairs), "sequence_scale_fit": {**_scores(p, t, scale), "scale": round(scale, 4)},
            "per_frame_scale_fit_mean": {k: round(float(np.mean([f[k] for f in per_frame])), 4) for k in per_frame[0]},
            "no_scale_fit": _scores(p, t, 1.0),
            "truth_mean_depth_cm": round(float(t.mean()), 3),
            "constant_baseline_after_scale_fit": _scores(np.ones_like(t), t, float(t.mean()))}


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="TorchScript depth network (default: the shipped one)")
    args = parser.parse_args(argv)
    if args.model:
        model = torch.jit.load(str(args.model)).eval()
    else:
        from ....runtime.torchscript import load_model
        from ..pipeline import DEPTH_ID

        model = load_model(DEPTH_ID, download=False).module
    print(json.dumps(evaluate(model), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
