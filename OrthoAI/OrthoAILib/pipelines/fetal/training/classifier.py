"""Train the head-shape classifier on HC18 crops and export it.

    python -m OrthoAILib.pipelines.fetal.training.classifier --out-dir out/fetal-cls --epochs 40

Labels are derived, not diagnosed: each still's expert head ellipse (fitted to its HC18 mask)
gives a cephalic index, and Hadlock's thresholds (``biometry.shape_class``) give the class. No
public set of fetal anomalies with labels is reachable, so this is what can be labelled honestly.
Crops are cut around the expert ellipse, turned to its long axis, with jitter of centre, size
and turn (the pipeline cuts around its own ellipse), and flipped (a shape class does not change
with the head's side). Classes are balanced by sampling.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

MODEL_FILE = "fetal_head_shape.pt"


def expert_ellipse(mask: np.ndarray):
    from ..calibration import OUTLINE_OFFSET_PX
    from ..ellipse import fit_region

    ellipse = fit_region(mask.astype(np.float32))
    return None if ellipse is None else ellipse.shrunk(OUTLINE_OFFSET_PX)


def labelled_cases(cases):
    """``(image, expert ellipse, class index)`` per still."""
    from ..biometry import SHAPE_CLASSES, shape_class
    from .hc18 import load_image, load_mask

    labelled = []
    for case in cases:
        ellipse = expert_ellipse(load_mask(case.mask_path))
        if ellipse is None:
            continue
        a, b = ellipse.semi_axes_px
        labelled.append((load_image(case.image_path), ellipse, SHAPE_CLASSES.index(shape_class(100 * b / a))))
    return labelled


def jittered_crop(image, ellipse, rng):
    from ..crop import head_crop
    from ..ellipse import Ellipse

    scale = rng.uniform(0.95, 1.05)
    size = ellipse.semi_axes_px
    shifted = Ellipse((ellipse.center_px[0] + rng.normal(0, 0.02) * size[0], ellipse.center_px[1] + rng.normal(0, 0.02) * size[0]),
                      (size[0] * scale, size[1] * scale), ellipse.angle_deg)
    crop, _ = head_crop(image, shifted, rotation_deg=rng.uniform(-12, 12) + 180 * int(rng.random() < 0.5), flip=bool(rng.random() < 0.5),
                        margin=rng.uniform(1.08, 1.25))
    return crop


def evaluate(net, crops, labels) -> dict:
    import torch

    from ..biometry import SHAPE_CLASSES

    net.eval()
    with torch.no_grad():
        predicted = net(torch.from_numpy(crops[:, None]))[0].argmax(1).numpy()
    confusion = np.zeros((len(SHAPE_CLASSES), len(SHAPE_CLASSES)), int)
    for truth, guess in zip(labels, predicted):
        confusion[truth, guess] += 1
    recalls = [confusion[i, i] / max(confusion[i].sum(), 1) for i in range(len(SHAPE_CLASSES))]
    return {"accuracy": round(float((predicted == labels).mean()), 4),
            "balanced_accuracy": round(float(np.mean(recalls)), 4),
            "confusion_rows_truth_cols_predicted": confusion.tolist(), "classes": list(SHAPE_CLASSES),
            "cases": int(len(labels))}


def train(out_dir: Path, epochs: int, batch_size: int = 32, lr: float = 2e-3, seed: int = 0) -> dict:
    import torch

    from ....nets.head_shape_net import HeadShapeNet
    from ....runtime.export import export_torchscript
    from ..crop import head_crop
    from .hc18 import hc18_cases, split

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_cases, val_cases = split(hc18_cases())
    train_set, val_set = labelled_cases(train_cases), labelled_cases(val_cases)
    val_crops = np.stack([head_crop(image, ellipse)[0] for image, ellipse, _ in val_set])
    val_labels = np.array([label for _, _, label in val_set])
    labels = np.array([label for _, _, label in train_set])
    weights = 1.0 / np.bincount(labels)[labels]
    weights /= weights.sum()
    net = HeadShapeNet()
    optimiser = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-3)
    steps = max(1, len(train_set) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, lr, total_steps=epochs * steps, pct_start=0.15)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.05)
    log, best, started = [], -1.0, time.time()
    for epoch in range(epochs):
        net.train()
        losses = []
        for _ in range(steps):
            chosen = rng.choice(len(train_set), batch_size, p=weights)
            x = torch.from_numpy(np.stack([jittered_crop(train_set[i][0], train_set[i][1], rng) for i in chosen])[:, None])
            y = torch.from_numpy(labels[chosen])
            loss = loss_fn(net(x)[0], y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
        metrics = evaluate(net, val_crops, val_labels)
        log.append({"epoch": epoch, "loss": round(float(np.mean(losses)), 4), **{k: metrics[k] for k in ("accuracy", "balanced_accuracy")},
                    "minutes": round((time.time() - started) / 60, 1)})
        print(json.dumps(log[-1]), flush=True)
        if metrics["balanced_accuracy"] > best:
            best = metrics["balanced_accuracy"]
            torch.save(net.state_dict(), out_dir / "best.pt")
    net.load_state_dict(torch.load(out_dir / "best.pt"))
    files = export_torchscript(net.eval(), out_dir / MODEL_FILE, {"forward": [torch.from_numpy(val_crops[:2, None])]},
                               atol=2e-3, rtol=1e-3)
    summary = {"files": files, "validation": evaluate(net, val_crops, val_labels), "log": log,
               "train_cases": len(train_set), "train_class_counts": np.bincount(labels).tolist()}
    (out_dir / "training.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args(argv)
    summary = train(args.out_dir, args.epochs)
    print(json.dumps(summary["validation"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
