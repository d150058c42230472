"""Train the knee cartilage networks from scratch on synthesised images.

    python -m OrthoAILib.pipelines.knee.training.networks --stage 1 --labels out/knee/labels --out-dir out/knee/stage1 --minutes 30
    python -m OrthoAILib.pipelines.knee.training.networks --stage 2 --labels out/knee/labels --out-dir out/knee/stage2 --minutes 60
    python -m OrthoAILib.pipelines.knee.training.networks --stage fibula --labels out/knee/labels --out-dir out/knee/fibula --minutes 40

Stage 1 (residual U-Net, 2.8 mm): cartilage region or not, on whole knees. Stage 2 (3-D ResNet +
ASPP, 0.7 mm): background, the four cartilage plates and four bones (the fibula tells lateral from
medial), on 48³ patches centred on each plate equally often. The coarse bone network (stage 1's
U-Net, 2.8 mm): background, tibia and fibula on whole knees, for the side of the knee the fibula
stands on (scored on the fibula's Dice). Loss: cross entropy plus soft Dice over
the foreground classes present in the batch (equal weights). AdamW with a cosine schedule over the
time budget; validated on the held-out knees (disjoint seeds) by Dice per class; the best is
exported as TorchScript with reference outputs, checkpoints every validation (``--resume``).
``--init-from`` starts from an earlier run's weights (``warm_start``: a class added since starts fresh,
or as a copy of a kindred class with ``--kindred``); ``--export-classes N`` ships only the first N
classes when one was trained but not learnt (its validation Dice goes into the summary).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

MODEL_FILES = {1: "knee_cartilage_region.pt", 2: "knee_cartilage_plates.pt", "fibula": "knee_fibula.pt"}


def scored(stage, dice: list) -> float:
    """The validation score a run keeps its best weights by: the plates (stage 2), the fibula (the
    coarse bone network), the region (stage 1)."""
    return float(np.mean(dice[:4] if stage == 2 else dice[-1:] if stage == "fibula" else dice))


def dice_ce_loss(logits, target, classes: int):
    import torch
    import torch.nn.functional as F

    ce = F.cross_entropy(logits, target)
    probability = torch.softmax(logits, 1)
    one_hot = F.one_hot(target, classes).permute(0, 4, 1, 2, 3).float()
    dims = (0, 2, 3, 4)
    intersection = (probability * one_hot).sum(dims)
    present = one_hot.sum(dims)
    total = probability.sum(dims) + present
    dice = (2 * intersection + 1) / (total + 1)
    # Only the foreground classes in this batch: a class absent from a patch would otherwise be
    # pushed to zero everywhere, and small plates are absent from most patches.
    foreground = present[1:] > 0
    if not bool(foreground.any()):
        return ce
    return ce + (1 - dice[1:][foreground]).mean()


def dice_per_class(predicted: np.ndarray, truth: np.ndarray, classes: int) -> list[float]:
    from ..biomarkers import dice

    return [dice(predicted == c, truth == c) for c in range(1, classes)]


def validation_cases(folder: Path, stage: int | str, count: int = 3) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fixed synthesised validation inputs: whole knees (stage 1, the coarse bones) or their
    cartilage crop (stage 2)."""
    from ....phantoms.knee_mr import synthesise_mr
    from .data import STAGE2_TARGET, coarse_bones_sample, load_maps, stage1_sample

    cases = []
    for index, (_, labels) in enumerate(load_maps(folder, "validation")[:count]):
        rng = np.random.default_rng(500 + index)
        if stage != 2:
            cases.append((stage1_sample if stage == 1 else coarse_bones_sample)(labels, rng))
            continue
        found = np.argwhere((labels >= 1) & (labels <= 4))
        low = np.maximum(found.min(0) - 10, 0)
        high = np.minimum(found.max(0) + 11, labels.shape)
        high = low + (high - low) // 4 * 4
        crop = labels[tuple(slice(a, b) for a, b in zip(low, high))]
        cases.append((synthesise_mr(crop, rng)[None], STAGE2_TARGET[crop]))
    return cases


def evaluate(net, cases, classes: int) -> list[float]:
    import torch

    net.eval()
    scores = []
    with torch.no_grad():
        for image, target in cases:
            predicted = net(torch.from_numpy(image[None])).argmax(1)[0].numpy()
            scores.append(dice_per_class(predicted, target, classes))
    net.train()
    return [round(float(v), 4) for v in np.mean(scores, axis=0)]


def warm_start(net, weights: Path, kindred: dict[int, int] | None = None) -> list[str]:
    """Start from an earlier run's weights where a class was added since: every tensor of the same
    shape is taken as it is; the output layer keeps the classes both runs have and starts the new
    ones from its fresh initialisation. Returns the names of the tensors only partly taken.

    ``kindred`` {new class: earlier class}: the new class starts as a copy of the earlier one in the
    output layer, its bias one lower (the earlier class still wins at first). A class the earlier run
    learnt as background (the fibula was) starts hopelessly behind from a fresh row: its features
    were trained to look like background; from a kindred class's row (the tibia: bone, beside it) it
    only has to learn where it differs."""
    import torch

    earlier = torch.load(weights, map_location="cpu")
    state = net.state_dict()
    partial = []
    for name, value in earlier.items():
        if name not in state:
            continue
        if value.shape == state[name].shape:
            state[name] = value
        elif value.shape[1:] == state[name].shape[1:] and value.shape[0] < state[name].shape[0]:
            state[name][:value.shape[0]] = value
            partial.append(name)
        else:
            raise ValueError(f"{name}: {tuple(value.shape)} in {weights} cannot seed {tuple(state[name].shape)}")
    for new, old in (kindred or {}).items():
        state["head.weight"][new] = state["head.weight"][old]
        state["head.bias"][new] = state["head.bias"][old] - 1.0
    net.load_state_dict(state)
    return partial


def keep_first_classes(head, count: int):
    """The output layer cut to its first ``count`` classes: a class the run did not learn well enough
    is left out of the exported file rather than shipped as noise (the others keep their weights)."""
    import torch

    cut = torch.nn.Conv3d(head.in_channels, count, 1)
    with torch.no_grad():
        cut.weight.copy_(head.weight[:count])
        cut.bias.copy_(head.bias[:count])
    return cut


def train(stage: int | str, labels_dir: Path, out_dir: Path, minutes: float, lr: float = 2e-3, batch_size: int = 2,
          validate_every: int = 100, resume: bool = False, seed: int = 0, export_only: bool = False,
          init_from: Path | None = None, kindred: dict[int, int] | None = None, head_lr_factor: float = 1.0,
          export_classes: int | None = None) -> dict:
    import torch

    from ....nets.knee_cartilage import COARSE_BONE_CLASSES, STAGE2_CLASSES, ResidualUNet3D, ResNetASPP3D
    from ....runtime.export import export_torchscript
    from ...training.checkpoint import RunState, record, resume_run
    from .data import REAL_NAME, coarse_bones_sample, load_maps, stage1_sample, stage2_sample

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    maps = load_maps(labels_dir, "train")
    class_names = {1: ("background", "cartilage region"), 2: STAGE2_CLASSES, "fibula": COARSE_BONE_CLASSES}[stage]
    classes = len(class_names)
    sample = {1: stage1_sample, 2: stage2_sample, "fibula": coarse_bones_sample}[stage]
    net = ResNetASPP3D() if stage == 2 else ResidualUNet3D(widths=(8, 16, 32, 48), classes=classes)
    if init_from is not None and not (resume or export_only):
        warm_start(net, init_from, kindred)
    cases = validation_cases(labels_dir, stage)
    # The output layer may learn faster (``head_lr_factor``): a class added to a trained network moves
    # its own row only a step of the learning rate at a time, and AdamW's steps do not grow with the
    # gradient, so at the body's rate it catches up over thousands of steps.
    head = [p for name, p in net.named_parameters() if name.startswith("head.")]
    body = [p for name, p in net.named_parameters() if not name.startswith("head.")]
    optimiser = torch.optim.AdamW([{"params": body, "lr": lr, "factor": 1.0},
                                   {"params": head, "lr": lr * head_lr_factor, "factor": head_lr_factor}],
                                  weight_decay=1e-4)
    # The schedule runs over an estimated step count, refined after the first validation.
    run = resume_run(out_dir, net, optimiser, None) if resume or export_only else RunState()
    if export_only:  # ship the best so far of a run that is still going (its checkpoint holds the log)
        minutes = 0
    log, best = run.log, run.best
    step = log[-1]["step"] if log else 0
    budget = minutes * 60
    started = time.time() - (log[-1]["seconds"] if log else 0)
    losses = []
    while not export_only and time.time() - started < budget:
        fraction = min((time.time() - started) / budget, 1.0)
        for group in optimiser.param_groups:
            group["lr"] = group["factor"] * lr * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * fraction)))
        samples = []
        for _ in range(batch_size if stage == 2 else 1):
            name, labels = maps[rng.integers(len(maps))]
            samples.append(sample(labels, rng, real=name.endswith(REAL_NAME)))
        x = torch.from_numpy(np.stack([s[0] for s in samples]))
        y = torch.from_numpy(np.stack([s[1] for s in samples]))
        loss = dice_ce_loss(net(x), y, classes)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
        step += 1
        if step % validate_every == 0 or time.time() - started >= budget:
            scores = evaluate(net, cases, classes)
            mean = scored(stage, scores)
            entry = {"step": step, "loss": round(float(np.mean(losses)), 4), "dice": scores,
                     "seconds": round(time.time() - started, 1)}
            best = record(out_dir, net, optimiser, None, step, log, entry, mean, best)
            losses = []
    net.load_state_dict(torch.load(out_dir / "best.pt"))
    classes_shipped = list(class_names)
    if export_classes is not None and export_classes < len(classes_shipped):
        net.head = keep_first_classes(net.head, export_classes)
        classes_shipped = classes_shipped[:export_classes]
    example = torch.from_numpy(np.ascontiguousarray(cases[0][0][None, :, :32, :32, :32]))  # small: the reference file ships
    files = export_torchscript(net.eval(), out_dir / MODEL_FILES[stage], {"forward": [example]}, atol=2e-3, rtol=2e-3)
    best_entry = max(log, key=lambda e: scored(stage, e["dice"]))
    summary = {"stage": stage, "files": files, "best_step": best_entry["step"], "validation_dice": best_entry["dice"],
               "classes": classes_shipped, "train_maps": len(maps), "log": log}
    if len(classes_shipped) < classes:  # trained, not learnt well enough to ship: its validation Dice says how far
        summary["classes_not_shipped"] = {name: best_entry["dice"][index - 1]
                                          for index, name in enumerate(STAGE2_CLASSES) if index >= len(classes_shipped)}
    if init_from is not None:  # a continued run: its minutes add to the earlier run's
        summary["started_from"] = {"weights": init_from.as_posix(), "kindred_classes": kindred or {}}
    (out_dir / "training.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=["1", "2", "fibula"], required=True,
                        help="1: cartilage region, 2: plates and bones, fibula: the coarse tibia and fibula")
    parser.add_argument("--labels", type=Path, required=True, help="the folder written by training.data")
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--validate-every", type=int, default=100)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--export-only", action="store_true", help="export the best weights so far and stop")
    parser.add_argument("--init-from", type=Path, default=None,
                        help="an earlier run's best.pt to start from (a class added since starts fresh)")
    parser.add_argument("--kindred", default="",
                        help="with --init-from: NEW=OLD,... a class that starts as a copy of another (e.g. 8=6: fibula from tibia)")
    parser.add_argument("--head-lr-factor", type=float, default=1.0,
                        help="the output layer's learning rate over the rest's (e.g. 10 when a class was added)")
    parser.add_argument("--export-classes", type=int, default=None,
                        help="export only the first N classes (one trained but not learnt is left out)")
    args = parser.parse_args(argv)
    kindred = {int(new): int(old) for new, old in (pair.split("=") for pair in args.kindred.split(",") if pair)}
    stage = args.stage if args.stage == "fibula" else int(args.stage)
    summary = train(stage, args.labels, args.out_dir, args.minutes, args.lr, validate_every=args.validate_every,
                    resume=args.resume, export_only=args.export_only, init_from=args.init_from,
                    kindred=kindred, head_lr_factor=args.head_lr_factor, export_classes=args.export_classes)
    print(json.dumps({k: v for k, v in summary.items() if k != "log"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
