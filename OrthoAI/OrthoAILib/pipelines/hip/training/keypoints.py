"""Train the hip keypoint detector (SSD512 + FPN) and its refinement stage, and export them.

    python -m OrthoAILib.pipelines.hip.training.keypoints --out-dir Resources/Models --work-dir out/hip-training

Generated films: training seeds 0..N-1, validation seeds from 500000 (the
benchmark uses seeds from 1000000, never seen here). Checkpoints go to the
work folder after every validation, so an interrupted run resumes; training
stops at the iteration limit or when validation reaches its target. The
exported TorchScript files and their ``Models.json`` entries go to the output
folder. Uses CUDA when present.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from ..crops import CROP, crop_work, work_to_crop
from ..detector_targets import CANONICAL_CLASSES, CUP_CLASSES, REFINE_SCALE
from .data import HipSample, build_samples

DETECTOR_ID, DETECTOR_FILE = "hip-keypoint-detector", "hip_keypoint_detector.pt"
REFINER_ID, REFINER_FILE = "hip-keypoint-refiner", "hip_keypoint_refiner.pt"
VALIDATION_SEED_START = 500_000
REFINER_JITTER_PX = 5.0  # spread of the crop centres around the truth (pixels): the detector's error, with margin
BOX_SIZE = 24.0  # detector pixels: the small fixed box centred on each keypoint
CUP_INDICES = [CANONICAL_CLASSES.index(n) for n in CUP_CLASSES]


def _augment(images, rng, torch):
    """Exposure and noise changes; no flips (the operated hip is on the image's left by design)."""
    gamma = torch.from_numpy(rng.uniform(0.75, 1.3, size=(images.shape[0], 1, 1, 1)).astype(np.float32))
    gain = torch.from_numpy(rng.uniform(0.85, 1.1, size=(images.shape[0], 1, 1, 1)).astype(np.float32))
    images = (images.clamp(0, 1) ** gamma) * gain
    return (images + 0.02 * torch.randn_like(images) * torch.rand(images.shape[0], 1, 1, 1)).clamp(0, 1)


def _detector_batch(samples: list[HipSample], indices, priors, rng, torch, augment=True):
    from ....nets.ssd512 import match_priors

    images = torch.from_numpy(np.stack([samples[i].detector_input for i in indices]).astype(np.float32) / 255.0)[:, None]
    if augment:
        images = _augment(images, rng, torch)
    classes, offsets = [], []
    for i in indices:
        targets = samples[i].detector_targets
        present = ~np.isnan(targets[:, 0])
        boxes = torch.tensor([[r, c, BOX_SIZE, BOX_SIZE] for r, c in targets[present]], dtype=torch.float32).reshape(-1, 4)
        labels = torch.tensor(np.nonzero(present)[0] + 1, dtype=torch.long)
        target_classes, target_offsets = match_priors(boxes, labels, priors)
        classes.append(target_classes)
        offsets.append(target_offsets)
    return images, torch.stack(classes), torch.stack(offsets)


def evaluate_detector(model, samples: list[HipSample], torch, device) -> dict:
    model.eval()
    errors, cup_right, cup_total = [], 0, 0
    with torch.no_grad():
        for start in range(0, len(samples), 8):
            chunk = samples[start: start + 8]
            images = torch.from_numpy(np.stack([s.detector_input for s in chunk]).astype(np.float32) / 255.0)[:, None]
            found = model.keypoints(images.to(device)).cpu().numpy()
            for sample, points in zip(chunk, found):
                present = ~np.isnan(sample.detector_targets[:, 0])
                errors.extend(np.linalg.norm(points[present, :2] - sample.detector_targets[present], axis=1).tolist())
                has_cup = bool(present[CUP_INDICES].all())
                says_cup = bool(points[CUP_INDICES, 2].mean() > 0.5)
                cup_right += int(has_cup == says_cup)
                cup_total += 1
    model.train()
    return {"mean_error_px": float(np.mean(errors)), "p95_error_px": float(np.percentile(errors, 95)),
            "cup_presence_accuracy": cup_right / max(cup_total, 1)}


def _refiner_batch(samples, rng, batch: int, jitter_px: float, class_share=None):
    """Crops around jittered true points. By default a sample, then a class it has (classes present
    in fewer films get fewer crops); with ``class_share`` (a probability per canonical class) the
    class is drawn first, then a sample that has it, so the shares hold whatever the film mix."""
    having = None
    if class_share is not None:
        present = ~np.isnan(np.stack([s.work_targets[:, 0] for s in samples]))
        having = [np.nonzero(present[:, index])[0] for index in range(len(CANONICAL_CLASSES))]
        class_share = np.where([len(h) > 0 for h in having], class_share, 0.0)
        class_share = class_share / class_share.sum()
    crops, classes, targets = [], [], []
    while len(crops) < batch:
        if having is None:
            sample = samples[int(rng.integers(len(samples)))]
            index = int(rng.integers(len(CANONICAL_CLASSES)))
        else:
            index = int(rng.choice(len(CANONICAL_CLASSES), p=class_share))
            sample = samples[int(rng.choice(having[index]))]
        truth = sample.work_targets[index]
        if np.isnan(truth[0]):
            continue
        scale = REFINE_SCALE[CANONICAL_CLASSES[index]]
        centre = truth + np.clip(rng.normal(0, jitter_px, 2), -2.5 * jitter_px, 2.5 * jitter_px) * scale
        crop, origin = crop_work(sample.work, centre, scale)
        crops.append(crop)
        classes.append(index)
        targets.append(work_to_crop(truth, origin, scale))
    return np.stack(crops)[:, None], np.array(classes), np.array(targets, dtype=np.float32)


WEIGHT_CHOICES = (0.0, 0.5, 1.0)
# 2.x: trained with hard negatives (no cup to find) and the realistic films; 1.x knew post-THA films only.
MODEL_VERSION = "2.0.0"


def fit_refinement_weights(detector, refiner, seeds) -> dict[str, float]:
    """How far to move from the detector's point towards the refiner's, per class: the weight
    (0, ½ or 1) with the smallest mean error on validation films drawn at their own spacing."""
    import torch

    from ..crops import crop_to_work
    from ..detector_targets import canonical_targets
    from ..preprocess import preprocess_both_views
    from ....phantoms.pelvis_xray import make_pelvis_radiograph

    errors = {name: {w: [] for w in WEIGHT_CHOICES} for name in CANONICAL_CLASSES}
    for seed in seeds:
        film = make_pelvis_radiograph(seed)
        views = preprocess_both_views(film.image, (film.spacing_mm, film.spacing_mm))
        for mirrored, prepared in zip((False, True), views):
            targets = canonical_targets(film.keypoints_rc, film.image.shape[1], mirrored)
            with torch.no_grad():
                coarse = detector.keypoints(torch.from_numpy(prepared.detector_input)[None, None])[0].numpy()
            for index, name in enumerate(CANONICAL_CLASSES):
                if name not in targets:
                    continue
                work = prepared.detector_to_work(coarse[index, :2])
                scale = REFINE_SCALE[name]
                crop, origin = crop_work(prepared.work, work, scale)
                with torch.no_grad():
                    located = refiner.locate(torch.from_numpy(crop)[None, None], torch.tensor([index]))[0].numpy()
                refined = crop_to_work(located[:2], origin, scale)
                for weight in WEIGHT_CHOICES:
                    point = prepared.work_to_original(work + weight * (refined - work))
                    errors[name][weight].append(float(np.linalg.norm((point - targets[name]) * film.spacing_mm)))
    return {name: min(WEIGHT_CHOICES, key=lambda w: np.mean(by_weight[w])) for name, by_weight in errors.items()}


def _log(**entry) -> None:
    print(json.dumps(entry), flush=True)


def train_detector(samples, validation, iterations: int, work_dir: Path, device, rng, target_error_px: float = 0.0,
                   initial_state=None, max_lr: float = 2e-3):
    """SSD training with checkpoints (resumed when present), until ``iterations`` or until the validation
    mean error reaches ``target_error_px`` (0: no target); returns the best network and its scores.
    ``initial_state``: weights to start from (fine-tuning a shipped detector on new data)."""
    import torch

    from ....nets.ssd512 import SSD512FPN, multibox_loss

    detector = SSD512FPN(len(CANONICAL_CLASSES) + 1).to(device)
    if initial_state is not None:
        detector.load_state_dict(initial_state)
    optimiser = torch.optim.AdamW(detector.parameters(), lr=max_lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=max_lr, total_steps=iterations, pct_start=0.1)
    checkpoint = work_dir / "detector.ckpt"
    step, best = 0, {"mean_error_px": math.inf}
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location=device)
        detector.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
        step, best = state["step"], state["best"]
        _log(stage="detector", resumed_at=step)
    started = time.time()
    while step < iterations:
        indices = rng.integers(len(samples), size=6)
        images, classes, offsets = _detector_batch(samples, indices, detector.priors.cpu(), rng, torch)
        logits, predicted = detector(images.to(device))
        confidence, location = multibox_loss(logits, predicted, classes.to(device), offsets.to(device))
        optimiser.zero_grad()
        (confidence + location).backward()
        optimiser.step()
        schedule.step()
        step += 1
        if step % 50 == 0:
            _log(stage="detector", step=step, confidence=round(confidence.item(), 4), location=round(location.item(), 4),
                 seconds=round(time.time() - started, 1))
        if step % 250 == 0 or step == iterations:
            scores = evaluate_detector(detector, validation, torch, device)
            _log(stage="detector-validation", step=step, **{k: round(v, 4) for k, v in scores.items()})
            if scores["mean_error_px"] < best["mean_error_px"]:
                best = dict(scores, step=step)
                torch.save(detector.state_dict(), work_dir / "detector_best.pt")
            torch.save({"model": detector.state_dict(), "optimiser": optimiser.state_dict(),
                        "schedule": schedule.state_dict(), "step": step, "best": best}, checkpoint)
            if scores["mean_error_px"] <= target_error_px:
                _log(stage="detector", target_reached=target_error_px, step=step)
                break
    detector.load_state_dict(torch.load(work_dir / "detector_best.pt", map_location=device))
    return detector, best, time.time() - started


def class_emphasis(name: str | None, share: float) -> np.ndarray | None:
    """Sampling probabilities giving ``name`` the ``share`` of the crops, the other classes the rest equally."""
    if name is None:
        return None
    others = (1.0 - share) / (len(CANONICAL_CLASSES) - 1)
    return np.array([share if c == name else others for c in CANONICAL_CLASSES])


def _refiner_validation_errors(refiner, crops, classes, targets, scales, torch, device) -> dict[str, float]:
    refiner.eval()
    with torch.no_grad():
        found = refiner.locate(torch.from_numpy(crops).to(device), torch.from_numpy(classes).to(device)).cpu().numpy()
    refiner.train()
    error_mm = np.linalg.norm(found[:, :2] - targets, axis=1) * scales * 0.4
    by_class = {CANONICAL_CLASSES[c]: float(error_mm[classes == c].mean()) for c in np.unique(classes)}
    return {"mean": float(error_mm.mean()), **by_class}


def train_refiner(samples, validation, iterations: int, device, rng, initial_state=None, max_lr: float = 2e-3,
                  class_share=None):
    """Heatmap refinement on crops around jittered true positions; returns the network.
    ``class_share``: how often each class is cropped (fine-tuning one weak point: see :func:`class_emphasis`)."""
    import torch

    from ....nets.keypoint_refiner import KeypointRefiner, soft_argmax

    refiner = KeypointRefiner(len(CANONICAL_CLASSES)).to(device)
    if initial_state is not None:
        refiner.load_state_dict(initial_state)
    optimiser = torch.optim.AdamW(refiner.parameters(), lr=max_lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=max_lr, total_steps=iterations, pct_start=0.1)
    started = time.time()
    crops_v, classes_v, targets_v = _refiner_batch(validation, np.random.default_rng(12345), 512, jitter_px=REFINER_JITTER_PX)
    scales_v = np.array([REFINE_SCALE[CANONICAL_CLASSES[c]] for c in classes_v])
    for step in range(1, iterations + 1):
        crops, classes, targets = _refiner_batch(samples, rng, 32, jitter_px=REFINER_JITTER_PX, class_share=class_share)
        heatmaps = refiner(_augment(torch.from_numpy(crops), rng, torch).to(device))
        located = soft_argmax(heatmaps[torch.arange(len(classes)), torch.from_numpy(classes).to(device)])
        loss = torch.nn.functional.l1_loss(located[:, :2], torch.from_numpy(targets).to(device))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 100 == 0 or step == iterations:
            errors = _refiner_validation_errors(refiner, crops_v, classes_v, targets_v, scales_v, torch, device)
            _log(stage="refiner", step=step, loss=round(loss.item(), 4), seconds=round(time.time() - started, 1),
                 validation_error_mm={k: round(v, 4) for k, v in errors.items()})
    return refiner, time.time() - started


def shipped_states(models_dir: Path) -> tuple[dict, dict]:
    """The weights of exported detector and refiner files, to fine-tune from."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return (torch.jit.load(str(models_dir / DETECTOR_FILE), map_location="cpu").state_dict(),
                torch.jit.load(str(models_dir / REFINER_FILE), map_location="cpu").state_dict())


def train(out_dir: Path, work_dir: Path, train_cases: int, detector_iterations: int, refiner_iterations: int,
          validation_cases: int = 40, seed: int = 0, registry: Path | None = None, target_error_px: float = 0.0,
          init_from: Path | None = None, max_lr: float = 2e-3, refiner_only: bool = False,
          emphasis: str | None = None, emphasis_share: float = 0.5) -> dict:
    """Train (or fine-tune, ``init_from``) and export. ``refiner_only``: keep the shipped detector of
    ``init_from`` and fine-tune the refinement stage alone, ``emphasis`` getting ``emphasis_share`` of
    its crops (a weak point trained harder without unlearning the others)."""
    import torch

    from ....runtime.device import select_device

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    device = select_device()
    work_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    samples = build_samples(range(train_cases))
    validation = build_samples(range(VALIDATION_SEED_START, VALIDATION_SEED_START + validation_cases))
    _log(stage="data", train_samples=len(samples), validation_samples=len(validation), seconds=round(time.time() - started, 1))
    initial = shipped_states(init_from) if init_from else (None, None)
    if refiner_only:
        if init_from is None:
            raise ValueError("refiner_only fine-tunes a shipped refiner: give init_from")
        detector = _detector_from_state(initial[0])
    else:
        detector, best, detector_seconds = train_detector(samples, validation, detector_iterations, work_dir, device, rng,
                                                          target_error_px, initial[0], max_lr)
    refiner, refiner_seconds = train_refiner(samples, validation, refiner_iterations, device, rng, initial[1], max_lr,
                                             class_emphasis(emphasis, emphasis_share))
    weights = fit_refinement_weights(detector.cpu().eval(), refiner.cpu().eval(),
                                     range(VALIDATION_SEED_START, VALIDATION_SEED_START + validation_cases // 2))
    _log(stage="refinement-weights", **weights)
    registry = registry or out_dir / "Models.json"
    if refiner_only:
        from ....runtime.registry import ModelRegistry, raise_minor

        previous = ModelRegistry.load(init_from / "Models.json").get(REFINER_ID).to_dict()
        return export(detector, refiner, out_dir, registry, weights, {
            **previous["metrics"]["training"], "refiner_fine_tuning": {
                "train_cases": train_cases, "iterations": refiner_iterations, "max_lr": max_lr,
                "emphasis": emphasis, "emphasis_share": emphasis_share if emphasis else None,
                "seconds": round(refiner_seconds, 1), "device": str(device)}},
            models=(REFINER_ID,), version=raise_minor(previous["version"]))
    return export(detector, refiner, out_dir, registry, weights, {
        "train_cases": train_cases, "detector_iterations": detector_iterations, "refiner_iterations": refiner_iterations,
        "detector_validation": {k: round(float(v), 4) for k, v in best.items()},
        "train_seconds_detector": round(detector_seconds, 1), "train_seconds_refiner": round(refiner_seconds, 1),
        "fine_tuned_from": "the previous shipped models" if init_from else None,
        "device": str(device)})


def _detector_from_state(state: dict):
    from ....nets.ssd512 import SSD512FPN

    detector = SSD512FPN(len(CANONICAL_CLASSES) + 1)
    detector.load_state_dict(state)
    return detector.eval()


def export(detector, refiner, out_dir: Path, registry: Path, refinement_weights: dict, training: dict,
           models: tuple[str, ...] = (DETECTOR_ID, REFINER_ID), version: str = MODEL_VERSION) -> dict:
    """TorchScript files that load in the oldest supported torch, each with its reference outputs;
    ``models``: which of the two to write (a refiner fine-tuned alone leaves the detector as shipped)."""
    from ....runtime.export import export_torchscript
    from ....runtime.registry import write_registry_entry
    from .reference_inputs import TOLERANCE, hip_reference_inputs

    out_dir.mkdir(parents=True, exist_ok=True)
    detector, refiner = detector.cpu().eval(), refiner.cpu().eval()
    examples = hip_reference_inputs(detector, refiner, refinement_weights)
    entries = {}
    data = (f"{training['train_cases']} generated films (OrthoAILib.phantoms, seeds 0-{training['train_cases'] - 1}, each "
            "as drawn and mirrored, drawn at 0.4 mm): 70 % AP pelves after THA (unilateral and bilateral; cup designs, "
            "stems, wires, textures, soft tissue, vendor looks; rotation up to 15 degrees, scale +-20 %), 30 % hard "
            "negatives with no cup to find (adult pelves with both hips native, children's pelves with open growth "
            "plates, knee films with and without a knee prosthesis, lateral hips, chest, blank and noise films; "
            "OrthoAILib.pipelines.hip.training.data.NEGATIVE_MIX). No patient data.")
    for model, model_id, file_name, task, extra, methods in (
        (detector, DETECTOR_ID, DETECTOR_FILE, "detection",
         {"patch_size": [512, 512], "preprocessing": "OrthoAILib.pipelines.hip.preprocess (0.1 mm, x1/4, 2 % floor, CLAHE 8x8 clip 100, 512)"},
         examples["detector"]),
        (refiner, REFINER_ID, REFINER_FILE, "keypoints",
         {"patch_size": [CROP, CROP], "spacing_mm": [0.4, 0.4], "preprocessing": "crops of the detector's 0.4 mm work image"},
         examples["refiner"]),
    ):
        if model_id not in models:
            continue
        files = export_torchscript(model, out_dir / file_name, methods, atol=TOLERANCE)
        entries[model_id] = {
            "id": model_id, "version": version, "task": task, "file": file_name, **files,
            "input": {"dims": 2, "channels": 1, "units": "normalised 0..1 (after CLAHE)", **extra},
            "labels": {str(i + 1): name for i, name in enumerate(CANONICAL_CLASSES)},
            "licence": "Apache-2.0", "training_data": data,
            "metrics": {"training": training},
            "intended_use": ("Research on hip-arthroplasty measures from AP pelvis radiographs; trained on synthetic films "
                             "only. Not a medical device; not for clinical use."),
        }
        if model_id == REFINER_ID:
            # final point = detector's + weight × (refiner's − detector's), per class (fit on validation films)
            entries[model_id]["refinement_weights"] = refinement_weights
        write_registry_entry(registry, entries[model_id])
    return entries


def refit_weights(models_dir: Path, registry: Path, validation_cases: int = 20) -> dict:
    """Fit the refinement weights for already exported models and store them in the registry."""
    import torch

    from ....runtime.registry import ModelRegistry, write_registry_entry

    detector = torch.jit.load(str(models_dir / DETECTOR_FILE))
    refiner = torch.jit.load(str(models_dir / REFINER_FILE))
    weights = fit_refinement_weights(detector, refiner, range(VALIDATION_SEED_START, VALIDATION_SEED_START + validation_cases))
    entry = ModelRegistry.load(registry).get(REFINER_ID).to_dict()
    entry["refinement_weights"] = weights
    write_registry_entry(registry, entry)
    return weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train and export the hip keypoint detector and refiner.")
    parser.add_argument("--out-dir", type=Path, required=True, help="folder for the TorchScript files and Models.json")
    parser.add_argument("--work-dir", type=Path, default=Path("out/hip-training"), help="checkpoints (resumable)")
    parser.add_argument("--train-cases", type=int, default=1500)
    parser.add_argument("--detector-iterations", type=int, default=2000)
    parser.add_argument("--refiner-iterations", type=int, default=1200)
    parser.add_argument("--target-error-px", type=float, default=0.0,
                        help="stop the detector early once its validation mean error (512-pixel input) is this low")
    parser.add_argument("--init-from", type=Path, help="fine-tune the detector and refiner exported in this folder")
    parser.add_argument("--max-lr", type=float, default=2e-3, help="peak learning rate (fine-tuning: lower, e.g. 5e-4)")
    parser.add_argument("--refit-weights", action="store_true",
                        help="only fit the refinement weights of the models already in --out-dir")
    parser.add_argument("--refiner-only", action="store_true",
                        help="keep the detector of --init-from and fine-tune the refinement stage alone")
    parser.add_argument("--emphasis", choices=CANONICAL_CLASSES,
                        help="a keypoint class the refiner crops more often (with --refiner-only)")
    parser.add_argument("--emphasis-share", type=float, default=0.5, help="its share of the refiner's crops")
    args = parser.parse_args(argv)
    if args.refit_weights:
        print(json.dumps(refit_weights(args.out_dir, args.out_dir / "Models.json"), indent=2))
        return 0
    entries = train(args.out_dir, args.work_dir, args.train_cases, args.detector_iterations, args.refiner_iterations,
                    target_error_px=args.target_error_px, init_from=args.init_from, max_lr=args.max_lr,
                    refiner_only=args.refiner_only, emphasis=args.emphasis, emphasis_share=args.emphasis_share)
    print(json.dumps({k: v["metrics"] for k, v in entries.items()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
