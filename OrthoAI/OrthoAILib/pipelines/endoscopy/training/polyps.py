"""Kvasir-SEG and CVC-ClinicDB frames with polyp masks, split for training and validation.

Validation: CVC-ClinicDB by sequence (frames 1-25 are sequence 1, 26-50 sequence 2, …; every fifth
sequence validates, so no frame of a validation sequence is ever trained on) and one Kvasir-SEG frame
in five, drawn with a fixed seed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...fetal.training.hc18 import DATA_ENV  # the shared data folder


@dataclass(frozen=True)
class PolypCase:
    source: str   # "kvasir" or "cvc"
    name: str
    image_path: Path
    mask_path: Path


def polyp_root() -> Path:
    return Path(os.environ.get(DATA_ENV, Path(__file__).resolve().parents[6] / "shared" / "data")) / "polyp"


def polyp_cases(root: Path | None = None) -> list[PolypCase]:
    root = root or polyp_root()
    cases = []
    for source, folder in (("kvasir", "Kvasir-SEG"), ("cvc", "CVC-ClinicDB")):
        for image in sorted((root / folder / "images").glob("*.jpg")):
            cases.append(PolypCase(source, image.stem, image, root / folder / "masks" / image.name))
    return cases


def is_validation(case: PolypCase) -> bool:
    if case.source == "cvc":
        return ((int(case.name) - 1) // 25) % 5 == 4
    return int(np.random.default_rng(abs(hash_name(case.name))).random() < 0.2)


def hash_name(name: str) -> int:
    """A stable integer from a frame's name (Python's hash() changes between runs)."""
    import zlib

    return zlib.crc32(name.encode())


def split(cases: list[PolypCase]) -> tuple[list[PolypCase], list[PolypCase]]:
    val = [c for c in cases if is_validation(c)]
    return [c for c in cases if not is_validation(c)], val


def load_case(case: PolypCase) -> tuple[np.ndarray, np.ndarray]:
    """(H×W×3 float 0-1 frame, H×W bool mask); masks are JPEG, so thresholded at 127."""
    from PIL import Image

    with Image.open(case.image_path) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255
    with Image.open(case.mask_path) as mask:
        return rgb, np.asarray(mask.convert("L")) > 127


def grid_case(case: PolypCase) -> tuple[np.ndarray, np.ndarray]:
    """The frame as the pipeline feeds it (3×192×192 normalised) and its mask on the same grid."""
    from ..preprocess import SEG_SIZE, prepare
    from skimage.transform import resize

    rgb, mask = load_case(case)
    prepared = prepare(rgb)
    top, left, bottom, right = prepared.frame_map.box
    grid_mask = resize(mask[top:bottom, left:right].astype(np.float32), (SEG_SIZE, SEG_SIZE), order=1,
                       anti_aliasing=False) > 0.5
    return prepared.seg_input, grid_mask
