"""Train the three CT fracture networks from scratch on the generated cases.

    python -m OrthoAILib.pipelines.fracture.training.networks --net bones --cases out/fracture/cases --out-dir out/fracture/bones --minutes 40
    python -m OrthoAILib.pipelines.fracture.training.networks --net detector --cases out/fracture/cases --out-dir out/fracture/detector --minutes 60
    python -m OrthoAILib.pipelines.fracture.training.networks --net classifier --cases out/fracture/cases --out-dir out/fracture/classifier --minutes 20

* bones: residual 3-D U-Net on 64³ crops of the 3 mm grid; cross entropy plus soft Dice over the bones
  present; validated by the mean Dice per bone on whole held-out cases.
* detector: FCOS3D on 96³ crops of the 2 mm grid (and of real CTs without fractures, ``--negative``); focal loss (α 0.25, γ 2) on the fracture logit,
  binary cross entropy on centre-ness and a 3-D IoU loss on the face distances at positive
  locations; validated by FROC sensitivity (mean over 0.5-8 false positives per scan) on whole
  held-out cases.
* classifier: ResNet-34 + attention on 32³ patches round each true lesion (centre jittered by the
  detector's typical error); validated by accuracy on the held-out cases' lesions.

Training reads the case folder again at every validation, so it can start while the generator is
still writing cases. The best weights are exported as TorchScript with reference outputs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

MODEL_FILES = {"bones": "ct_bone_labels.pt", "detector": "ct_fracture_detector.pt", "classifier": "ct_fracture_classifier.pt"}
CROP = {"bones": 64, "detector": 96}
NEGATIVE_SHARE = 0.15  # of detector crops taken from the real negative CTs (--negative)


class CasePool:
    """The training cases, loaded as they appear in the folder."""

    def __init__(self, folder: Path, split: str) -> None:
        self.folder, self.split, self.cases, self.names = folder, split, [], set()
        self.refresh()

    def refresh(self) -> None:
        for path in sorted((self.folder / self.split).glob("*.npz")):
            if path.name in self.names:
                continue
            try:
                self.cases.append(dict(np.load(path)))
                self.names.add(path.name)
            except (OSError, ValueError, EOFError):  # still being written
                continue

    def pick(self, rng) -> dict:
        return self.cases[rng.integers(len(self.cases))]


def detector_loss(outputs, targets):
    """Focal + centre-ness + IoU over a batch; ``targets`` per sample a list of level dicts."""
    import torch
    import torch.nn.functional as F

    focal_sum, centre_sum, iou_sum, positives = 0.0, 0.0, 0.0, 0
    for level, output in enumerate(outputs):
        positive = torch.from_numpy(np.stack([t[level]["positive"] for t in targets]))
        distances = torch.from_numpy(np.stack([t[level]["distances"] for t in targets]))
        centreness = torch.from_numpy(np.stack([t[level]["centreness"] for t in targets]))
        logit = output[:, 0]
        probability = torch.sigmoid(logit)
        target = positive.float()
        ce = F.binary_cross_entropy_with_logits(logit, target, reduction="none")
        p_t = probability * target + (1 - probability) * (1 - target)
        alpha = 0.25 * target + 0.75 * (1 - target)
        focal_sum = focal_sum + (alpha * (1 - p_t) ** 2 * ce).sum()
        count = int(positive.sum())
        if count == 0:
            continue
        positives += count
        centre_sum = centre_sum + F.binary_cross_entropy_with_logits(output[:, 1][positive], centreness[positive], reduction="sum")
        predicted = output[:, 2:8].permute(0, 2, 3, 4, 1)[positive]
        true = distances.permute(0, 2, 3, 4, 1)[positive]
        # Both boxes share the location: per axis the overlap is min(near) + min(far).
        overlap = torch.minimum(predicted[:, :3], true[:, :3]) + torch.minimum(predicted[:, 3:], true[:, 3:])
        intersection = overlap.prod(1)
        union = (predicted[:, :3] + predicted[:, 3:]).prod(1) + (true[:, :3] + true[:, 3:]).prod(1) - intersection
        iou = intersection / union.clamp(min=1e-6)
        iou_sum = iou_sum + (centreness[positive] * -torch.log(iou.clamp(min=1e-6))).sum() / centreness[positive].mean().clamp(min=1e-3)
    n = max(positives, 1)
    return (focal_sum + centre_sum + iou_sum) / n


def froc(found: list[tuple[np.ndarray, np.ndarray]], truths: list[np.ndarray],
         rates=(0.5, 1, 2, 4, 8)) -> dict:
    """Sensitivity at each number of false positives per scan (RibFrac's rule: a hit when the
    predicted centre lies in a true box; each true box counted once; extra hits on it are neither)."""
    from ..evaluation import match_findings

    entries, total = [], sum(len(t) for t in truths)
    for (boxes, scores), truth in zip(found, truths):
        entries += match_findings(boxes, scores, truth)
    entries.sort(key=lambda e: -e[0])
    scans = max(len(truths), 1)
    result, hits, false = {}, 0, 0
    curve = []
    for score, kind in entries:
        if kind == "hit":
            hits += 1
        elif kind == "false":
            false += 1
        curve.append((false / scans, hits / max(total, 1)))
    for rate in rates:
        sensitivity = max([s for fp, s in curve if fp <= rate], default=0.0)
        result[str(rate)] = round(sensitivity, 4)
    result["mean"] = round(float(np.mean([result[str(r)] for r in rates])), 4)
    return result


def negative_cases(paths) -> list[dict]:
    """Real CTs with no fracture, on the detection grid, as cases without boxes (the detector learns
    that real bone, unlike the phantoms', is not a finding)."""
    from ....image import Image, ImageOrigin
    from ....io.volume import read_volume
    from ..preprocess import DETECT_SPACING_MM, to_grid

    cases = []
    for path in paths or ():
        image = read_volume([path])
        ct2, _ = to_grid(Image(image.array, image.geometry, ImageOrigin(Path(path).name, "CT")), DETECT_SPACING_MM, 1)
        cases.append({"ct2": np.round(ct2).astype(np.int16), "boxes": np.zeros((0, 6), np.float32)})
    return cases


def train(net_name: str, cases_dir: Path, out_dir: Path, minutes: float, lr: float, validate_every: int,
          resume: bool = False, validation_count: int = 6, patience: int = 12, negatives=(),
          export_only: bool = False, select_on_all: bool = False) -> dict:
    import torch

    from ....nets.fracture import FCOS3D, FractureClassifier
    from ....nets.knee_cartilage import ResidualUNet3D
    from ....runtime.export import export_torchscript
    from ..bones import BONE_COUNT
    from ..classes import CLASSES
    from ..detection import fcos_targets
    from ..preprocess import network_input
    from .loop import train_loop
    from ..patches import PATCH, lesion_patch
    from .samples import augment_patch, bone_sample, detector_sample

    pool = CasePool(cases_dir, "train")
    all_validation = CasePool(cases_dir, "validation").cases
    validation = all_validation[:validation_count if net_name != "classifier" else None]  # the rounds' (time)
    calls = {"n": 0}

    def refreshed_pick(rng):
        calls["n"] += 1
        if calls["n"] % 200 == 0:
            pool.refresh()
        return pool.pick(rng)

    if net_name == "bones":
        net = ResidualUNet3D(widths=(10, 20, 40, 64), classes=BONE_COUNT + 1)

        def make_batch(rng):
            x, y = bone_sample(refreshed_pick(rng), CROP["bones"], rng)
            return torch.from_numpy(x[None]), torch.from_numpy(y[None])

        def loss_fn(out, y):
            from ...knee.training.networks import dice_ce_loss

            return dice_ce_loss(out, y, BONE_COUNT + 1)

        def evaluate(model):
            from ..evaluation import bone_dice
            from ..pipeline import run_bone_net

            scores = [bone_dice(run_bone_net(model, case["ct3"]), case["lab3"]) for case in validation]
            per_bone = {str(b): round(float(np.nanmean([s.get(b, np.nan) for s in scores])), 4)
                        for b in range(1, BONE_COUNT + 1) if any(b in s for s in scores)}
            return float(np.mean(list(per_bone.values()))), {"dice": per_bone}

        example = torch.from_numpy(network_input(validation[0]["ct3"][:32, :32, :32].astype(np.float32))[None, None])
    elif net_name == "detector":
        net = FCOS3D()
        real_negatives = negative_cases(negatives)

        def pick_detector_case(rng):
            if real_negatives and rng.random() < NEGATIVE_SHARE:
                return real_negatives[rng.integers(len(real_negatives))]
            return refreshed_pick(rng)

        def make_batch(rng):
            samples = [detector_sample(pick_detector_case(rng), CROP["detector"], rng) for _ in range(2)]
            x = torch.from_numpy(np.stack([s[0] for s in samples]))
            return x, [fcos_targets(s[1], (CROP["detector"],) * 3) for s in samples]

        def evaluate(model):
            from ..pipeline import run_detector

            found = [run_detector(model, case["ct2"]) for case in validation]
            result = froc(found, [case["boxes"].reshape(-1, 6) for case in validation])
            return result["mean"], {"froc": result}

        loss_fn = detector_loss
        example = torch.from_numpy(network_input(validation[0]["ct2"][:64, :64, :64].astype(np.float32))[None, None])
    else:
        net = FractureClassifier(classes=len(CLASSES))
        class_weights = torch.ones(len(CLASSES))

        def make_batch(rng):
            xs, ys = [], []
            while len(xs) < 12:
                case = refreshed_pick(rng)
                if not len(case["classes"]):
                    continue
                index = rng.integers(len(case["classes"]))
                box = case["boxes"].reshape(-1, 6)[index]
                centre = (box[:3] + box[3:]) / 2 + rng.normal(0, 1.5, 3)
                xs.append(lesion_patch(case["ct2"], centre, augment_patch(rng)))
                ys.append(int(case["classes"][index]))
            return torch.from_numpy(np.stack(xs)), torch.tensor(ys)

        def loss_fn(out, y):
            return torch.nn.functional.cross_entropy(out, y, weight=class_weights, label_smoothing=0.05)

        def evaluate(model):
            xs, ys = [], []
            for case in validation:
                for box, cls in zip(case["boxes"].reshape(-1, 6), case["classes"]):
                    xs.append(lesion_patch(case["ct2"], (box[:3] + box[3:]) / 2))
                    ys.append(int(cls))
            predicted = model(torch.from_numpy(np.stack(xs))).argmax(1).numpy()
            ys = np.array(ys)
            confusion = np.zeros((len(CLASSES), len(CLASSES)), int)
            for t, p in zip(ys, predicted):
                confusion[t, p] += 1
            accuracy = float(np.mean(predicted == ys))
            return accuracy, {"accuracy": round(accuracy, 4), "confusion": confusion.tolist(), "lesions": len(ys)}

        example = torch.zeros(1, 1, PATCH, PATCH, PATCH)
    log = train_loop(net, out_dir, 0 if export_only else minutes, lr, make_batch, loss_fn, evaluate, validate_every,
                     resume or export_only, patience=patience)
    selection = select_weights(net, out_dir, evaluate, validation, all_validation) if select_on_all else None
    files = export_torchscript(net.eval(), out_dir / MODEL_FILES[net_name], {"forward": [example]}, atol=2e-3, rtol=2e-3)
    best = max(log, key=lambda e: e["score"])
    if selection is not None:
        best = {**(log[-1] if selection["selected"] == "last" else best), **selection[selection["selected"]],
                "selected_on": f"all {len(all_validation)} validation cases"}
    summary = {"net": net_name, "files": files, "best": best, "selection": selection, "train_cases": len(pool.cases),
               "real_negatives": [Path(p).name for p in negatives or ()],
               "validation_cases": len(validation), "log": log}
    (out_dir / "training.json").write_text(json.dumps(summary, indent=2))
    return summary


def select_weights(net, out_dir: Path, evaluate, validation: list, all_validation: list) -> dict:
    """The final choice between the best round's weights (scored on the first validation cases, for
    time) and the last weights, on the whole validation split: a round's score on a few cases is
    noisy, and an early lucky round can beat a longer-trained network there. Loads the winner."""
    import torch

    from ...training.checkpoint import CHECKPOINT_FILE

    candidates = {"best_round": torch.load(out_dir / "best.pt"),
                  "last": torch.load(out_dir / CHECKPOINT_FILE, weights_only=False)["net"]}
    validation[:] = all_validation  # the evaluation closures read this list
    scores = {}
    for name, state in candidates.items():
        net.load_state_dict(state)
        net.eval()
        with torch.no_grad():
            score, metrics = evaluate(net)
        scores[name] = {"score": round(float(score), 4), **metrics}
    selected = max(scores, key=lambda name: scores[name]["score"])
    net.load_state_dict(candidates[selected])
    print(json.dumps({"selection": scores, "selected": selected}), flush=True)
    return {**scores, "selected": selected}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", choices=sorted(MODEL_FILES), required=True)
    parser.add_argument("--cases", type=Path, required=True, help="the folder written by training.data")
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--validate-every", type=int, default=150)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--patience", type=int, default=12, help="stop after this many validations without a better score")
    parser.add_argument("--negative", type=Path, nargs="*", default=(),
                        help="detector: real CTs without fractures, cropped as negatives (15 %% of crops)")
    parser.add_argument("--export-only", action="store_true", help="no more training: export from the run in --out-dir")
    parser.add_argument("--select-on-all-validation", action="store_true",
                        help="ship the better of the best round's and the last weights on the whole validation split")
    args = parser.parse_args(argv)
    summary = train(args.net, args.cases, args.out_dir, args.minutes, args.lr, args.validate_every, args.resume,
                    patience=args.patience, negatives=args.negative, export_only=args.export_only,
                    select_on_all=args.select_on_all_validation)
    print(json.dumps({k: v for k, v in summary.items() if k != "log"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
