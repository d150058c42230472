"""Training and validation samples for the hip keypoint networks, from generated films.

Each generated case gives two samples (as drawn, and mirrored): the 512×512
detector input and the 0.4 mm work image (both 8-bit to keep thousands in
memory), with canonical targets in each image's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from multiprocessing import get_context
from typing import Sequence

import numpy as np

from ..detector_targets import CANONICAL_CLASSES, canonical_targets
from ..preprocess import preprocess_both_views
from ....phantoms.negatives import make_negative_radiograph
from ....phantoms.pelvis_xray import make_pelvis_radiograph

TRAINING_SPACING_MM = 0.4  # films for training are drawn straight at the work resolution (fast)


@dataclass
class HipSample:
    detector_input: np.ndarray  # uint8 512×512
    work: np.ndarray  # uint8, 0.4 mm
    detector_targets: np.ndarray  # float32 9×2 (row, column), NaN where absent
    work_targets: np.ndarray  # float32 9×2


# Of every 20 seeds: 14 post-THA films (right, left or bilateral, as the generator draws them),
# then hard negatives the detector must answer "no cup here" for: 2 adult pelves with both hips
# native, a child's pelvis, a knee film (sometimes with a knee prosthesis: metal that is no cup),
# a lateral hip, a chest film, a blank or noise image. Validation and held-out seeds follow the same mix.
NEGATIVE_MIX = {14: "none", 15: "none", 16: "child_pelvis", 17: "knee_ap", 18: "lateral_hip", 19: "chest"}


def film_kind(seed: int) -> str:
    """What the film of ``seed`` shows: "tha" (a post-THA AP pelvis) or a negative kind."""
    kind = NEGATIVE_MIX.get(seed % 20, "tha")
    if kind == "chest" and (seed // 20) % 3 == 2:  # some chest slots are blank or noise films
        kind = "blank" if (seed // 60) % 2 == 0 else "noise"
    return kind


def film_for_seed(seed: int, spacing_mm: float | None = None, mix_negatives: bool = True):
    """The generated film of ``seed`` in the training mix (``mix_negatives=False``: always post-THA)."""
    kind = film_kind(seed) if mix_negatives else "tha"
    if kind == "tha":
        return make_pelvis_radiograph(seed, spacing_mm=spacing_mm)
    if kind == "none":
        return make_pelvis_radiograph(seed, operated="none", spacing_mm=spacing_mm)
    return make_negative_radiograph(seed, kind, spacing_mm=spacing_mm)


def samples_for_seed(seed: int, spacing_mm: float | None = TRAINING_SPACING_MM) -> list[HipSample]:
    radiograph = film_for_seed(seed, spacing_mm)
    samples = []
    views = preprocess_both_views(radiograph.image, (radiograph.spacing_mm, radiograph.spacing_mm))
    for mirrored, prepared in zip((False, True), views):
        targets = canonical_targets(radiograph.keypoints_rc, radiograph.image.shape[1], mirrored)
        work_targets = np.full((len(CANONICAL_CLASSES), 2), np.nan, dtype=np.float32)
        for index, name in enumerate(CANONICAL_CLASSES):
            if name in targets:
                work_targets[index] = prepared.original_to_work(targets[name])
        detector_targets = np.where(np.isnan(work_targets), np.nan, prepared.work_to_detector(work_targets)).astype(np.float32)
        samples.append(HipSample(
            (np.clip(prepared.detector_input, 0, 1) * 255).round().astype(np.uint8),
            (np.clip(prepared.work, 0, 1) * 255).round().astype(np.uint8),
            detector_targets, work_targets))
    return samples


def build_samples(seeds: Sequence[int], workers: int = 2) -> list[HipSample]:
    if workers <= 1:
        return [s for seed in seeds for s in samples_for_seed(seed)]
    with get_context("fork").Pool(workers) as pool:
        return [s for batch in pool.imap(samples_for_seed, seeds, chunksize=8) for s in batch]
