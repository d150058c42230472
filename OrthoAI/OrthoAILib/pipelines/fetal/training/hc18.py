"""The HC18 training set in ``../shared/data/hc18`` (van den Heuvel et al., PLoS ONE 2018, CC BY 4.0).

Several stills can come from one subject (``010_HC``, ``010_2HC``), so the validation split is by
the three-digit subject prefix: subjects whose number is divisible by 5 are validation, the rest
train. A disjoint part of HC18 is held back elsewhere for independent evaluation.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_ENV = "ORTHOAI_SHARED_DATA"


def hc18_dir() -> Path:
    root = Path(os.environ.get(DATA_ENV, Path(__file__).resolve().parents[6] / "shared" / "data"))
    return root / "hc18"


@dataclass(frozen=True)
class HC18Case:
    name: str
    image_path: Path
    mask_path: Path
    pixel_size_mm: float
    hc_mm: float

    @property
    def subject(self) -> int:
        return int(self.name[:3])

    @property
    def validation(self) -> bool:
        return self.subject % 5 == 0


def hc18_cases(root: Path | None = None) -> list[HC18Case]:
    root = Path(root or hc18_dir())
    table = root / "pixel_size_and_hc.csv"
    if not table.is_file():
        raise FileNotFoundError(f"HC18 not found: {table} is missing (set {DATA_ENV} to the shared data folder).")
    with table.open(newline="") as handle:
        return [HC18Case(row["filename"].rsplit(".", 1)[0], root / "images" / row["filename"],
                         root / "masks" / row["filename"], float(row["pixel_size_mm"]),
                         float(row["head_circumference_mm"])) for row in csv.DictReader(handle)]


def split(cases: list[HC18Case]) -> tuple[list[HC18Case], list[HC18Case]]:
    return [c for c in cases if not c.validation], [c for c in cases if c.validation]


def load_image(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("L"))


def load_mask(path: Path) -> np.ndarray:
    return load_image(path) > 127
