"""Train the depth-guided polyp segmenter (or, with ``--no-depth``, the same network without depth).

    python -m OrthoAILib.pipelines.endoscopy.training.segmentation --depth-model out/endo/depth/endoscopy_depth.pt \
        --out-dir out/endo/seg --epochs 12
    python -m OrthoAILib.pipelines.endoscopy.training.segmentation --no-depth --out-dir out/endo/seg-nodepth --epochs 12

From scratch (no pretrained weights), on the training part of Kvasir-SEG and CVC-ClinicDB
(``polyps.split``). Depth comes from the frozen depth network on each augmented frame, as at
inference. Loss: boundary-weighted BCE plus boundary-weighted soft IoU (weights 1 + 5 × how much of
a 31×31 neighbourhood differs from the pixel, so the rims of polyps count most). Augmentation: flips,
quarter turns, rotation up to 30°, scale 0.75-1.3, random 160×160 crops, colour gains, gamma, blur.
Checkpoints every epoch (``--resume`` continues); the best validation Dice is exported.
``--init WEIGHTS`` starts a new run (fresh schedule) from an earlier run's ``best.pt``, so a budget
can be extended in stages.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

MODEL_FILE = "endoscopy_polyp_seg.pt"
CROP = 160


def augment(x: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    from scipy import ndimage

    image = x.transpose(1, 2, 0) * 0.25 + 0.5  # back to 0-1 RGB
    size = image.shape[0]
    angle = np.radians(rng.uniform(-30, 30)) + rng.integers(4) * np.pi / 2
    scale = rng.uniform(0.75, 1.3)
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    matrix = np.array([[cos, -sin], [sin, cos]])
    centre = (size - 1) / 2
    shift = rng.uniform(-(size - CROP) / 2, (size - CROP) / 2, 2)
    out_centre = (CROP - 1) / 2
    offset = centre + shift - matrix @ np.array([out_centre, out_centre])
    channels = [ndimage.affine_transform(image[..., c], matrix, offset, output_shape=(CROP, CROP), order=1) for c in range(3)]
    image = np.stack(channels, -1)
    grid_mask = ndimage.affine_transform(mask.astype(np.float32), matrix, offset, output_shape=(CROP, CROP), order=1) > 0.5
    if rng.random() < 0.5:
        image, grid_mask = image[:, ::-1], grid_mask[:, ::-1]
    image = np.clip(image * rng.uniform(0.8, 1.2, 3) * rng.uniform(0.7, 1.3), 0, 1) ** rng.uniform(0.7, 1.4)
    if rng.random() < 0.3:
        image = ndimage.gaussian_filter(image, (rng.uniform(0.5, 1.5),) * 2 + (0,))
    normalised = ((image - 0.5) / 0.25).astype(np.float32).transpose(2, 0, 1)
    return np.ascontiguousarray(normalised), np.ascontiguousarray(grid_mask)


def structure_loss(logits, target):
    """Boundary-weighted BCE + boundary-weighted soft IoU, each averaged over the batch."""
    import torch
    import torch.nn.functional as F

    weight = 1 + 5 * (F.avg_pool2d(target, 31, stride=1, padding=15) - target).abs()
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    bce = (weight * bce).sum((2, 3)) / weight.sum((2, 3))
    probability = torch.sigmoid(logits)
    intersection = (probability * target * weight).sum((2, 3))
    union = ((probability + target) * weight).sum((2, 3))
    iou = 1 - (intersection + 1) / (union - intersection + 1)
    return (bce + iou).mean()


def depth_for(depth_net, x):
    """The depth network's estimate for normalised frames on any grid, resized to that grid (cm)."""
    import torch

    from ....nets.keypoint_refiner import upsample_bilinear
    from ..preprocess import DEPTH_SIZE

    with torch.no_grad():
        if depth_net is None:
            return torch.ones(x.shape[0], 1, x.shape[2], x.shape[3])
        small = torch.nn.functional.adaptive_avg_pool2d(x, DEPTH_SIZE) if x.shape[2] % DEPTH_SIZE == 0 else \
            upsample_bilinear(x, [DEPTH_SIZE, DEPTH_SIZE])
        return upsample_bilinear(depth_net(small), [x.shape[2], x.shape[3]])


def evaluate(net, depth_net, inputs, masks) -> dict:
    """Dice and IoU per frame on the grid (mean), and lesions per frame that touch no true polyp."""
    import torch

    from ..lesions import find_lesions

    net.eval()
    dice, iou, false_lesions = [], [], []
    with torch.no_grad():
        for start in range(0, len(inputs), 16):
            x = torch.from_numpy(inputs[start:start + 16])
            probability = torch.sigmoid(net(x, depth_for(depth_net, x))).numpy()[:, 0]
            for p, truth in zip(probability, masks[start:start + 16]):
                predicted = p > 0.5
                inter, total = (predicted & truth).sum(), predicted.sum() + truth.sum()
                dice.append(1.0 if total == 0 else 2 * inter / total)
                iou.append(1.0 if total == 0 else inter / (total - inter))
                false_lesions.append(sum(1 for lesion in find_lesions(p) if not truth[lesion.pixels].any()))
    net.train()
    return {"dice": round(float(np.mean(dice)), 4), "iou": round(float(np.mean(iou)), 4),
            "false_lesions_per_frame": round(float(np.mean(false_lesions)), 4), "frames": len(inputs)}


def train(out_dir: Path, epochs: int, depth_model: Path | None, batch_size: int = 8, lr: float = 3e-3,
          resume: bool = False, seed: int = 0, init: Path | None = None) -> dict:
    import torch

    from ....nets.depth_guided_seg import DepthGuidedSegNet
    from ....runtime.export import export_torchscript
    from ...training.checkpoint import RunState, record, resume_run
    from .polyps import grid_case, polyp_cases, split

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_cases, val_cases = split(polyp_cases())
    train_data = [grid_case(c) for c in train_cases]
    val_sets = {}
    for source in ("kvasir", "cvc"):
        pairs = [grid_case(c) for c in val_cases if c.source == source]
        val_sets[source] = (np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]))
    depth_net = torch.jit.load(str(depth_model)).eval() if depth_model else None
    net = DepthGuidedSegNet(use_depth=depth_net is not None)
    if init is not None:
        net.load_state_dict(torch.load(init))
    optimiser = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps = len(train_data) // batch_size
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, lr, total_steps=epochs * steps, pct_start=0.1)
    run = resume_run(out_dir, net, optimiser, schedule) if resume else RunState()
    start_epoch, log, best = run.start_epoch, run.log, run.best
    if start_epoch:
        rng = np.random.default_rng(seed + start_epoch)
    started = time.time()
    for epoch in range(start_epoch, epochs):
        losses = []
        for _ in range(steps):
            xs, ys = zip(*(augment(*train_data[int(i)], rng) for i in rng.integers(len(train_data), size=batch_size)))
            x, y = torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys)[:, None].astype(np.float32))
            loss = structure_loss(net(x, depth_for(depth_net, x)), y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
        scores = {source: evaluate(net, depth_net, *data) for source, data in val_sets.items()}
        mean_dice = float(np.mean([s["dice"] for s in scores.values()]))
        entry = {"epoch": epoch, "loss": round(float(np.mean(losses)), 4), "validation": scores,
                 "minutes": round((time.time() - started) / 60, 1)}
        best = record(out_dir, net, optimiser, schedule, epoch, log, entry, mean_dice, best)
    net.load_state_dict(torch.load(out_dir / "best.pt"))
    x = torch.from_numpy(val_sets["kvasir"][0][:2])
    files = export_torchscript(net.eval(), out_dir / MODEL_FILE, {"forward": [x, depth_for(depth_net, x)]},
                               atol=2e-3, rtol=2e-3)
    best_log = max(log, key=lambda e: np.mean([s["dice"] for s in e["validation"].values()]))
    summary = {"files": files, "use_depth": depth_net is not None, "best_epoch": best_log["epoch"],
               "validation": best_log["validation"], "log": log, "train_frames": len(train_data),
               "train_sources": {s: sum(c.source == s for c in train_cases) for s in ("kvasir", "cvc")}}
    (out_dir / "training.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--depth-model", type=Path, help="the trained depth network (TorchScript)")
    parser.add_argument("--no-depth", action="store_true", help="the ablation: the same network without depth guidance")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--init", type=Path, help="start from these weights (an earlier run's best.pt)")
    args = parser.parse_args(argv)
    if args.no_depth == (args.depth_model is not None):
        parser.error("give either --depth-model or --no-depth")
    summary = train(args.out_dir, args.epochs, args.depth_model, args.batch_size, args.lr, args.resume,
                    init=args.init)
    print(json.dumps({k: v for k, v in summary.items() if k != "log"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
