"""Train ``phantom-bone-seg-tiny`` on generated CT phantoms and export it.

    python -m OrthoAILib.pipelines.bone_phantom.training.tiny_bone --out-dir Resources/Models

Trains on phantoms from seeds 0..N-1, measures Dice on seeds 1000.. (never
seen in training) through the same sliding-window runtime that users run,
writes the TorchScript file and replaces its entry in ``Models.json``.
About a minute on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

MODEL_ID = "phantom-bone-seg-tiny"
MODEL_FILE = "phantom_bone_seg_tiny.pt"
PATCH = (32, 32, 32)
HELDOUT_SEED_START = 1000


def _random_crops(phantoms, rng, batch: int):
    import torch

    images, labels = [], []
    for _ in range(batch):
        phantom = phantoms[int(rng.integers(len(phantoms)))]
        starts = [int(rng.integers(0, s - p + 1)) for s, p in zip(phantom.image_hu.shape, PATCH)]
        window = tuple(slice(s, s + p) for s, p in zip(starts, PATCH))
        image, label = phantom.image_hu[window].astype(np.float32), phantom.bone_label[window]
        for axis in range(3):  # flips: bones have no preferred direction
            if rng.random() < 0.5:
                image, label = np.flip(image, axis), np.flip(label, axis)
        images.append(image.copy())
        labels.append(label.copy())
    return torch.from_numpy(np.stack(images)[:, None]), torch.from_numpy(np.stack(labels).astype(np.int64))


def evaluate(module, seeds) -> dict:
    from ....phantoms.bone_ct import make_bone_phantom
    from ....runtime.inference import sliding_window_predict
    from ..pipeline import dice

    model_scores, threshold_scores = [], []
    for seed in seeds:
        phantom = make_bone_phantom(seed)
        logits = sliding_window_predict(module, phantom.image_hu[None].astype(np.float32), PATCH, overlap=0.25)
        model_scores.append(dice(logits.argmax(0) == 1, phantom.bone_label == 1))
        threshold_scores.append(dice(phantom.image_hu > 200, phantom.bone_label == 1))
    return {
        "dice_bone_mean": round(float(np.mean(model_scores)), 4),
        "dice_bone_min": round(float(np.min(model_scores)), 4),
        "threshold_200hu_dice_bone_mean": round(float(np.mean(threshold_scores)), 4),
        "heldout_cases": len(seeds),
        "heldout_seeds": f"{seeds[0]}-{seeds[-1]}",
    }


def train(out_dir: Path, registry: Path | None, train_cases: int = 24, iterations: int = 600,
          heldout_cases: int = 16, seed: int = 0) -> dict:
    import torch

    from ....nets.tiny_bone_net import TinyBoneNet
    from ....phantoms.bone_ct import make_bone_phantom
    from ....runtime.export import export_torchscript
    from ....runtime.registry import write_registry_entry

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    started = time.time()
    phantoms = [make_bone_phantom(s) for s in range(train_cases)]
    net = TinyBoneNet()
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, iterations)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, 3.0]))
    for step in range(iterations):
        images, labels = _random_crops(phantoms, rng, batch=4)
        loss = loss_fn(net(images), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 100 == 0 or step == iterations - 1:
            print(json.dumps({"step": step, "loss": round(loss.item(), 4)}), flush=True)
    train_seconds = time.time() - started

    # Reference inputs for ``make compat``: two 32³ HU patches of the first held-out phantom, as the
    # sliding window passes them.
    heldout = make_bone_phantom(HELDOUT_SEED_START).image_hu
    patches = np.stack([heldout[:32, :32, :32], heldout[-32:, -32:, -32:]])[:, None]
    path = out_dir / MODEL_FILE
    files = export_torchscript(net.eval(), path, {"forward": [torch.from_numpy(np.ascontiguousarray(patches, np.float32))]},
                               atol=2e-3)
    metrics = evaluate(torch.jit.load(str(path)), list(range(HELDOUT_SEED_START, HELDOUT_SEED_START + heldout_cases)))
    metrics["train_seconds_2core_cpu"] = round(train_seconds, 1)
    entry = {
        "id": MODEL_ID,
        "version": "1.0.0",
        "task": "segmentation",
        "file": MODEL_FILE,
        **files,
        "input": {
            "dims": 3, "channels": 1, "units": "HU", "array_order": "channels-first, KJI spatial",
            "patch_size": list(PATCH), "overlap": 0.25, "spacing_mm": None,
            "preprocessing": "none (the HU window -200..1800 is inside the network)",
        },
        "labels": {"0": "background", "1": "bone"},
        "licence": "Apache-2.0",
        "training_data": (
            f"{train_cases} generated CT phantoms (OrthoAILib.phantoms.bone_ct, seeds 0-{train_cases - 1}): "
            "ellipsoid bones with cortex and marrow, contrast-filled vessels, Gaussian noise. No patient data."
        ),
        "metrics": metrics,
        "intended_use": (
            "Tests and demonstrations of the OrthoAI model runtime on synthetic phantoms. "
            "Not a medical device; not for clinical use."
        ),
    }
    if registry is not None:
        write_registry_entry(registry, entry)
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, required=True, help="folder for the TorchScript file")
    parser.add_argument("--registry", type=Path, help="Models.json to update (default: OUT_DIR/Models.json)")
    parser.add_argument("--iterations", type=int, default=600)
    args = parser.parse_args(argv)
    entry = train(args.out_dir, args.registry or args.out_dir / "Models.json", iterations=args.iterations)
    print(json.dumps(entry["metrics"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
