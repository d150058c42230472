"""Training data of the knee cartilage networks: label maps on the fine grid, and samples
synthesised from them on the fly.

    python -m OrthoAILib.pipelines.knee.training.data --out-dir out/knee/labels --train 40 --validation 6

Label maps: procedural knees (``phantoms.knee_anatomy``; training seeds 0..N-1, validation seeds from
100000, disjoint) and the real pymskt DESS label map, all on the stage-2 grid (0.7 mm isotropic,
sagittal). Samples: stage 2 gets 48³ patches around cartilage, turned, scaled and flipped, with an MR
image synthesised for each (``phantoms.knee_mr``); stage 1 and the coarse bone network (tibia and
fibula) get whole knees on the 2.8 mm grid, mirrored half the time.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..preprocess import FINE_SPACING_MM, STAGE1_FACTOR

FINE_SHAPE = (160, 200, 200)  # 112 × 140 × 140 mm: the DESS field of view
VALIDATION_SEED0 = 100_000
REAL_NAME = "pymskt_dess"
STAGE2_TARGET = np.zeros(256, dtype=np.int64)  # label value -> stage-2 class
STAGE2_TARGET[[1, 2, 3, 4, 5, 6, 7, 8]] = [1, 2, 3, 4, 5, 6, 7, 8]  # 8: the fibula, which tells lateral from medial


def real_label_map() -> np.ndarray | None:
    """The pymskt DESS label map resampled (nearest) onto the fine grid, or None when absent."""
    from ....io.volume import read_labelmap
    from ..preprocess import resample_to_canonical

    path = Path(__file__).resolve().parents[6] / "shared" / "data" / "knee" / "pymskt" / \
        "SAG_3D_DESS_RIGHT_bones_cart_men_fib-label.nrrd"
    if not path.is_file():
        return None
    image = read_labelmap([path])
    labels, _ = resample_to_canonical(image, FINE_SPACING_MM, interpolation="nearest")
    return labels.astype(np.uint8)


def generate(out_dir: Path, train: int, validation: int) -> dict:
    from ....phantoms.knee_anatomy import make_knee

    out_dir.mkdir(parents=True, exist_ok=True)
    seeds = {"validation": list(range(VALIDATION_SEED0, VALIDATION_SEED0 + validation)), "train": list(range(train))}
    for part, part_seeds in seeds.items():
        for seed in part_seeds:
            path = out_dir / f"{part}_{seed}.npz"
            if not path.exists():
                knee = make_knee(seed, FINE_SHAPE, (FINE_SPACING_MM,) * 3)
                np.savez_compressed(path, labels=knee.labelmap, design=json.dumps(knee.design.to_json()))
    real = real_label_map()
    if real is not None:
        np.savez_compressed(out_dir / f"train_{REAL_NAME}.npz", labels=real, design="{}")
    return {"seeds": seeds, "real": real is not None}


def load_maps(folder: Path, part: str) -> list[tuple[str, np.ndarray]]:
    return [(p.stem, np.load(p)["labels"]) for p in sorted(folder.glob(f"{part}_*.npz"))]


def _rotation(rng: np.random.Generator, degrees: float) -> np.ndarray:
    matrix = np.eye(3)
    for axis in range(3):
        a = np.radians(rng.uniform(-degrees, degrees))
        i, j = [k for k in range(3) if k != axis]
        turn = np.eye(3)
        turn[i, i], turn[i, j], turn[j, i], turn[j, j] = np.cos(a), -np.sin(a), np.sin(a), np.cos(a)
        matrix = matrix @ turn
    return matrix


def stage2_sample(labels: np.ndarray, rng: np.random.Generator, size: int = 48, real: bool = False):
    """(image 1×S×S×S float32, target S×S×S int64): a patch turned up to 15°, scaled 0.85-1.15,
    centred on cartilage (a plate chosen at random, then a voxel of it) two times in three, on the
    fibula's head one time in four (the bone that says which side of the knee is lateral; a network
    that first learnt it as background needs it often to learn it apart from the tibia beside it)."""
    from scipy import ndimage

    from ....phantoms.knee_mr import synthesise_mr

    plates = [value for value in (1, 2, 3, 4) if (labels == value).any()]
    chance = rng.random()
    fibula_voxels = np.flatnonzero(labels == 8) if chance < 0.25 else np.empty(0, int)  # the scan only when used
    if fibula_voxels.size:
        fibula = np.array(np.unravel_index(fibula_voxels, labels.shape))
        head = fibula[:, fibula[1] <= np.percentile(fibula[1], 30)]  # its top (rows run inferior)
        centre = head[:, rng.integers(head.shape[1])].astype(float) + rng.normal(0, 6, 3)
    elif chance < 0.92 and plates:  # each plate as often as the others: the small ones are learnt too
        voxels = np.flatnonzero(labels == plates[rng.integers(len(plates))])
        centre = np.array(np.unravel_index(voxels[rng.integers(voxels.size)], labels.shape), float)
        centre += rng.normal(0, 6, 3)
    else:
        centre = rng.uniform([size / 2] * 3, np.array(labels.shape) - size / 2)
    matrix = _rotation(rng, 15) * rng.uniform(0.85, 1.15)
    offsets = np.stack(np.meshgrid(*[np.arange(size) - (size - 1) / 2] * 3, indexing="ij")).reshape(3, -1)
    coords = matrix @ offsets + centre[:, None]
    patch = ndimage.map_coordinates(labels, coords, order=0, mode="constant", cval=0).reshape(size, size, size)
    if rng.random() < 0.5:  # a left knee from a right one (the M-L axis is K)
        patch = patch[::-1]
    image = synthesise_mr(patch, rng, split_background=real)
    return np.ascontiguousarray(image[None]), STAGE2_TARGET[patch]


def whole_knee_sample(labels: np.ndarray, rng: np.random.Generator, real: bool = False):
    """(image D×H×W on the stage-1 grid, the labels it was made from at twice its resolution): the
    knee mirrored across K half the time (a left knee from a right one), synthesised at twice the
    grid's resolution and averaged down, so partial volume looks as it does in a resampled scan."""
    from ....phantoms.knee_mr import synthesise_mr

    half = STAGE1_FACTOR // 2
    shift = rng.integers(0, half, 3)
    labels = labels[shift[0]::half, shift[1]::half, shift[2]::half]
    if rng.random() < 0.5:
        labels = labels[::-1]
    labels = labels[:labels.shape[0] // 2 * 2, :labels.shape[1] // 2 * 2, :labels.shape[2] // 2 * 2]
    image = synthesise_mr(labels, rng, split_background=real)
    d, h, w = (n // 2 for n in labels.shape)
    return image.reshape(d, 2, h, 2, w, 2).mean((1, 3, 5)), labels


def stage1_sample(labels: np.ndarray, rng: np.random.Generator, real: bool = False):
    """(image 1×D×H×W, target D×H×W in {0,1}): a whole knee and its cartilage on the stage-1 grid."""
    from ..preprocess import pad_to_multiple

    image, labels = whole_knee_sample(labels, rng, real)
    d, h, w = image.shape
    cartilage = ((labels >= 1) & (labels <= 4)).reshape(d, 2, h, 2, w, 2).max((1, 3, 5))
    image, _ = pad_to_multiple(image, 8)
    target, _ = pad_to_multiple(cartilage.astype(np.int64), 8)
    return np.ascontiguousarray(image[None]).astype(np.float32), target


def coarse_bones_sample(labels: np.ndarray, rng: np.random.Generator, real: bool = False):
    """(image 1×D×H×W, target D×H×W: 0 other, 1 tibia, 2 fibula): a whole knee and its two lower-leg
    bones on the stage-1 grid (a voxel is a bone's where at least half of it is)."""
    from ..preprocess import pad_to_multiple

    image, labels = whole_knee_sample(labels, rng, real)
    d, h, w = image.shape
    target = np.zeros((d, h, w), np.int64)
    for value, bone in ((6, 1), (8, 2)):
        target[(labels == value).reshape(d, 2, h, 2, w, 2).mean((1, 3, 5)) >= 0.5] = bone
    image, _ = pad_to_multiple(image, 8)
    target, _ = pad_to_multiple(target, 8)
    return np.ascontiguousarray(image[None]).astype(np.float32), target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--train", type=int, default=40)
    parser.add_argument("--validation", type=int, default=6)
    args = parser.parse_args(argv)
    print(json.dumps(generate(args.out_dir, args.train, args.validation)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
