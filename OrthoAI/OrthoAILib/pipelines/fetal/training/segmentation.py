"""Train the fetal head segmenter on HC18 (training subjects) and export it.

    python -m OrthoAILib.pipelines.fetal.training.segmentation --out-dir out/fetal-seg --epochs 35

Checkpoints every epoch in ``--out-dir`` (``--resume`` continues); validation Dice on the network
grid every epoch, and the best epoch is exported as TorchScript with reference outputs. The
biometry figures (HC error in mm) come from the pipeline's benchmark, not from here.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

MODEL_FILE = "fetal_head_seg.pt"


def _load(cases):
    from .hc18 import load_image, load_mask

    return [(load_image(c.image_path), load_mask(c.mask_path)) for c in cases]


def _batch(pairs, rng, size: int):
    import torch

    from .augment import augmented_pair

    images, masks = zip(*(augmented_pair(*pairs[int(rng.integers(len(pairs)))], rng) for _ in range(size)))
    return torch.from_numpy(np.stack(images)[:, None]), torch.from_numpy(np.stack(masks)[:, None])


def validation_inputs(pairs):
    from ..preprocess import letterbox_matrix, network_input, resample

    inputs, targets = [], []
    for image, mask in pairs:
        x, box = network_input(image)
        inputs.append(x)
        targets.append(resample(mask.astype(np.float32), letterbox_matrix(box)) > 0.5)
    return np.stack(inputs)[:, None], np.stack(targets)


def validation_dice(net, inputs, targets) -> float:
    import torch

    net.eval()
    scores = []
    with torch.no_grad():
        for start in range(0, len(inputs), 16):
            predicted = net(torch.from_numpy(inputs[start:start + 16])).numpy()[:, 0] > 0
            truth = targets[start:start + 16]
            inter = (predicted & truth).sum(axis=(1, 2))
            scores += list(2 * inter / np.maximum(predicted.sum(axis=(1, 2)) + truth.sum(axis=(1, 2)), 1))
    net.train()
    return float(np.mean(scores))


def train(out_dir: Path, epochs: int, batch_size: int = 8, lr: float = 3e-3, resume: bool = False,
          seed: int = 0, init_from: Path | None = None) -> dict:
    import torch

    from ....nets.unet2d import UNet2d
    from ....runtime.export import export_torchscript
    from ...training.checkpoint import RunState, record, resume_run
    from .hc18 import hc18_cases, split

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_cases, val_cases = split(hc18_cases())
    train_pairs, val_pairs = _load(train_cases), _load(val_cases)
    val_x, val_y = validation_inputs(val_pairs)
    net = UNet2d()
    if init_from is not None:  # continue from earlier weights with a fresh schedule
        net.load_state_dict(torch.load(init_from))
    optimiser = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = len(train_pairs) // batch_size
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, lr, total_steps=epochs * steps_per_epoch, pct_start=0.1)
    run = resume_run(out_dir, net, optimiser, schedule) if resume else RunState()
    start_epoch, log, best = run.start_epoch, run.log, run.best
    if start_epoch:
        rng = np.random.default_rng(seed + start_epoch)
    bce = torch.nn.BCEWithLogitsLoss()
    started = time.time()
    for epoch in range(start_epoch, epochs):
        losses = []
        for _ in range(steps_per_epoch):
            x, y = _batch(train_pairs, rng, batch_size)
            logits = net(x)
            probability = torch.sigmoid(logits)
            dice_loss = 1 - (2 * (probability * y).sum((1, 2, 3)) + 1) / (probability.sum((1, 2, 3)) + y.sum((1, 2, 3)) + 1)
            loss = bce(logits, y) + dice_loss.mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
        dice = validation_dice(net, val_x, val_y)
        entry = {"epoch": epoch, "loss": round(float(np.mean(losses)), 4), "val_dice": round(dice, 4),
                 "minutes": round((time.time() - started) / 60, 1)}
        best = record(out_dir, net, optimiser, schedule, epoch, log, entry, dice, best)
    net.load_state_dict(torch.load(out_dir / "best.pt"))
    files = export_torchscript(net.eval(), out_dir / MODEL_FILE, {"forward": [torch.from_numpy(val_x[:2])]},
                               atol=2e-3, rtol=1e-3)
    summary = {"files": files, "best_val_dice_network_grid": round(best, 4), "log": log,
               "train_cases": len(train_pairs), "validation_cases": len(val_pairs)}
    (out_dir / "training.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=35)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--init-from", type=Path, help="weights (state dict) to start from, with a fresh schedule")
    args = parser.parse_args(argv)
    summary = train(args.out_dir, args.epochs, args.batch_size, args.lr, args.resume, init_from=args.init_from)
    print(json.dumps({k: v for k, v in summary.items() if k != "log"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
