"""Train the endoscopy depth network on rendered colon frames and check it on SimCol3D.

    python -m OrthoAILib.pipelines.endoscopy.training.depth --render-dir out/endo/render --out-dir out/endo/depth

Loss: L1 on log-depth for the global, superposed and refined images (weights 0.25, 0.25, 1) and
on the refined image's gradients, inside the endoscope's field. Augmentation: flips, quarter
turns, colour gain and hue, gamma, noise. The best epoch on the rendered validation seeds is
exported; ``simcol.py`` then scores it on SimCol3D's true depth.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

MODEL_FILE = "endoscopy_depth.pt"


def augment(rgb: np.ndarray, depth: np.ndarray, valid: np.ndarray, rng: np.random.Generator):
    """One rendered frame (H×W×3 uint8, H×W depth, H×W mask) with random flips, turns and colour."""
    turns = int(rng.integers(4))
    flip = rng.random() < 0.5
    arrays = []
    for a in (rgb, depth, valid):
        a = np.rot90(a, turns, axes=(0, 1))
        arrays.append(a[:, ::-1] if flip else a)
    image = arrays[0].astype(np.float32) / 255
    image = image * rng.uniform(0.75, 1.25, 3) * rng.uniform(0.7, 1.3)
    image = np.clip(image, 0, 1) ** rng.uniform(0.7, 1.4)
    image = image + rng.normal(0, rng.uniform(0, 0.03), image.shape)
    return np.ascontiguousarray(image, dtype=np.float32), np.ascontiguousarray(arrays[1], dtype=np.float32), \
        np.ascontiguousarray(arrays[2])


def _tensors(rgb, depth, valid):
    import torch

    from ..preprocess import normalise_rgb

    x = torch.from_numpy(normalise_rgb(rgb)).permute(0, 3, 1, 2).contiguous()
    return x, torch.from_numpy(depth)[:, None], torch.from_numpy(valid)[:, None].float()


def depth_loss(stages, depth, valid):
    import torch

    target = torch.log(depth.clamp(min=0.05))
    weight = valid / valid.sum().clamp(min=1)
    loss = 0.0
    for stage, w in zip((stages[0], stages[2], stages[3]), (0.25, 0.25, 1.0)):
        loss = loss + w * ((stage - target).abs() * weight).sum()
    refined = stages[3]
    for axis in (2, 3):
        grad_p, grad_t = torch.diff(refined, dim=axis), torch.diff(target, dim=axis)
        both = valid.narrow(axis, 1, valid.shape[axis] - 1) * valid.narrow(axis, 0, valid.shape[axis] - 1)
        loss = loss + 0.5 * ((grad_p - grad_t).abs() * both).sum() / both.sum().clamp(min=1)
    return loss


def validation_error(net, val) -> float:
    """Mean absolute log-depth error (≈ relative error) on the validation renderings."""
    import torch

    net.eval()
    errors = []
    with torch.no_grad():
        for start in range(0, len(val["rgb"]), 50):
            x, d, v = _tensors(val["rgb"][start:start + 50].astype(np.float32) / 255,
                               val["depth"][start:start + 50].astype(np.float32), val["valid"][start:start + 50])
            refined = net.stages(x)[3]
            errors.append(float(((refined - torch.log(d.clamp(min=0.05))).abs() * v).sum() / v.sum()))
    net.train()
    return float(np.mean(errors))


def train(render_dir: Path, out_dir: Path, epochs: int, batch_size: int = 16, lr: float = 2e-3, seed: int = 0) -> dict:
    import torch

    from ....nets.endoscopy_depth import GlobalLocalDepthNet
    from ....runtime.export import export_torchscript
    from .renderings import VALIDATION_SEED, load_shards

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    shards = sorted(render_dir.glob("render_*.npz"))
    val = load_shards([p for p in shards if int(p.stem.split("_")[1]) >= VALIDATION_SEED])
    data = load_shards([p for p in shards if int(p.stem.split("_")[1]) < VALIDATION_SEED])
    net = GlobalLocalDepthNet()
    optimiser = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps = len(data["rgb"]) // batch_size
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, lr, total_steps=epochs * steps, pct_start=0.1)
    log, best, started = [], np.inf, time.time()
    for epoch in range(epochs):
        losses = []
        for _ in range(steps):
            picks = rng.integers(len(data["rgb"]), size=batch_size)
            rgb, depth, valid = zip(*(augment(data["rgb"][i], data["depth"][i], data["valid"][i], rng) for i in picks))
            x, d, v = _tensors(np.stack(rgb), np.stack(depth), np.stack(valid))
            loss = depth_loss(net.stages(x), d, v)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
        error = validation_error(net, val)
        log.append({"epoch": epoch, "loss": round(float(np.mean(losses)), 4), "val_abs_log_error": round(error, 4),
                    "minutes": round((time.time() - started) / 60, 1)})
        print(json.dumps(log[-1]), flush=True)
        if error < best:
            best = error
            torch.save(net.state_dict(), out_dir / "best.pt")
    net.load_state_dict(torch.load(out_dir / "best.pt"))
    x, _, _ = _tensors(val["rgb"][:2].astype(np.float32) / 255, val["depth"][:2].astype(np.float32), val["valid"][:2])
    files = export_torchscript(net.eval(), out_dir / MODEL_FILE, {"forward": [x], "stages": [x]}, atol=2e-3, rtol=2e-3)
    summary = {"files": files, "best_val_abs_log_error": round(best, 4), "log": log,
               "train_renderings": len(data["rgb"]), "validation_renderings": len(val["rgb"])}
    (out_dir / "training.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--render-dir", type=Path, required=True)
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args(argv)
    summary = train(args.render_dir, args.out_dir, args.epochs, args.batch_size)
    print(json.dumps({k: v for k, v in summary.items() if k != "log"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
