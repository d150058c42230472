"""Generated CT cases for training, stored on the networks' grids.

    python -m OrthoAILib.pipelines.fracture.training.data --out out/fracture/cases --train 160 --validation 16

Each case is a ``phantoms.ct_case`` phantom at a random acquisition spacing (in-plane 1.1-2 mm,
slices 1.25-3 mm; finer grids cost the generator more than they teach), put through the pipeline's own preprocessing (``preprocess.to_grid``) onto the 2 mm
detection grid and the 3 mm bone grid, with its bone labels on the 3 mm grid and its true boxes in
voxels of the 2 mm grid. Training seeds start at 10 000, validation seeds at 90 000 and the
benchmark's at 200 000, so the three never share a case.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

TRAIN_SEED, VALIDATION_SEED, TEST_SEED = 10_000, 90_000, 200_000


def case_image(seed: int, spacing=None, size_mm=None, lesions=(0, 5)):
    """A phantom at a random acquisition grid (or the one given) as an ``Image`` and its truth."""
    from ....image import Image, ImageOrigin
    from ....phantoms.ct_case import make_ct_case

    rng = np.random.default_rng(seed + 7)
    if spacing is None:
        inplane = rng.uniform(1.1, 2.0)
        spacing = (inplane, inplane, rng.choice([1.25, 1.5, 2.0, 2.5, 3.0]))
    if size_mm is None:
        size_mm = (rng.uniform(400, 470), rng.uniform(350, 400), rng.uniform(180, 330))
    case = make_ct_case(seed, spacing, size_mm, lesions=lesions)
    return Image(case.hu, case.geometry, ImageOrigin(name=f"phantom-{seed}", modality="CT")), case


def grids(image, labels: np.ndarray):
    """The case on the detection grid (HU), the bone grid (HU) and its labels on the bone grid."""
    from ....image import Image
    from ..preprocess import BONE_SPACING_MM, CT_DIRECTIONS, DETECT_SPACING_MM, to_grid
    from ...volume_grids import resample_to_canonical

    ct2, geometry2 = to_grid(image, DETECT_SPACING_MM, 1)
    ct3, geometry3 = to_grid(image, BONE_SPACING_MM, 1)
    lab3, _ = resample_to_canonical(Image(labels, image.geometry), BONE_SPACING_MM, CT_DIRECTIONS, "nearest", 1)
    return ct2, geometry2, ct3, geometry3, lab3


def boxes_in_voxels(boxes_ras: list[dict], geometry) -> np.ndarray:
    """RAS boxes as (k0, j0, i0, k1, j1, i1) continuous voxel coordinates of a canonical grid."""
    out = []
    for box in boxes_ras:
        corners = np.array([box["low_ras_mm"], box["high_ras_mm"]])
        ijk = geometry.world_to_ijk(corners)
        low, high = ijk.min(0), ijk.max(0)
        out.append([low[2], low[1], low[0], high[2], high[1], high[0]])
    return np.array(out, dtype=np.float32).reshape(-1, 6)


def write_case(seed: int, folder: Path) -> dict:
    from ..classes import CLASSES

    image, case = case_image(seed)
    ct2, geometry2, ct3, geometry3, lab3 = grids(image, case.labels)
    boxes = case.boxes_ras()
    np.savez_compressed(folder / f"{seed}.npz", ct2=np.round(ct2).astype(np.int16), ct3=np.round(ct3).astype(np.int16),
                        lab3=lab3.astype(np.uint8), boxes=boxes_in_voxels(boxes, geometry2),
                        classes=np.array([CLASSES.index(b["class"]) for b in boxes], dtype=np.int64),
                        bones=np.array([b["bone"] for b in boxes], dtype=np.int64))
    return {"seed": seed, "spacing": list(image.geometry.spacing), "lesions": [(b["class"], b["bone"]) for b in boxes]}


def export_case(seed: int, folder: Path, spacing=None, size_mm=None, lesions=(1, 5), tilt_degrees: float = 0.0) -> dict:
    """One generated case as a user gets data: ``<seed>.nii.gz`` and a DICOM series ``<seed>_dicom/``
    of the CT, ``<seed>.bones.nii.gz`` (true bone labels) and ``<seed>.truth.json`` (true boxes in
    RAS mm with class and bone)."""
    from ....io.ct_dicom import write_ct_series
    from ....io.reports import write_json
    from ....io.volume import write_labelmap, write_volume
    from ..bones import BONE_BY_VALUE

    folder.mkdir(parents=True, exist_ok=True)
    image, case = case_image(seed, spacing, size_mm, lesions)
    write_volume(folder / f"{seed}.nii.gz", case.hu, case.geometry)
    write_labelmap(folder / f"{seed}.bones.nii.gz", case.labels, case.geometry)
    write_ct_series(folder / f"{seed}_dicom", case.hu, case.geometry, tilt_degrees=tilt_degrees)
    truth = {"seed": seed, "spacing_mm": list(case.geometry.spacing),
             "fractures": [{**box, "bone": BONE_BY_VALUE[box["bone"]].key} for box in case.boxes_ras()]}
    write_json(folder / f"{seed}.truth.json", truth)
    return truth


def load_cases(folder: Path, split: str) -> list[dict]:
    return [dict(np.load(path)) for path in sorted((folder / split).glob("*.npz"))]


def main(argv=None) -> int:
    from multiprocessing import Pool

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--train", type=int, default=160)
    parser.add_argument("--validation", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--export", type=int, nargs="+", metavar="SEED",
                        help="instead: write these cases as NIfTI, DICOM series, true labels and boxes into --out")
    args = parser.parse_args(argv)
    if args.export:
        for seed in args.export:
            print(json.dumps(export_case(seed, args.out)))
        return 0
    jobs = []
    for split, first, count in (("validation", VALIDATION_SEED, args.validation), ("train", TRAIN_SEED, args.train)):
        (args.out / split).mkdir(parents=True, exist_ok=True)
        jobs += [(seed, args.out / split) for seed in range(first, first + count) if not (args.out / split / f"{seed}.npz").exists()]
    with Pool(args.workers) as pool:
        summary = pool.starmap(write_case, jobs)
    counts = {}
    for entry in summary:
        for cls, _ in entry["lesions"]:
            counts[cls] = counts.get(cls, 0) + 1
    print(json.dumps({"cases": len(summary), "lesions": counts}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
