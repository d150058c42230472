"""Keypoints from an AP pelvis radiograph: preprocess, detect (SSD512 + FPN), refine.

The detector looks for the operated hip on the image's left; every film is
therefore examined as drawn and mirrored. A view whose three cup keypoints
score high has its operated hip on the image's left: the patient's right
(as drawn) or left (mirrored). Both views scoring high means bilateral
arthroplasty, and both sides are measured, each with the other prosthesis'
centre as its contralateral centre. Each coarse keypoint is then refined on
a crop of the 0.4 mm work image by the refinement network (soft-argmax); the
final point moves from the detector's towards the refiner's by a per-class
weight that the refiner's registry entry carries (fit on validation films).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ...errors import InputError
from ...geometry import mirror_columns
from ...runtime.progress import CancelToken, ProgressCallback, report
from .crops import crop_to_work, crop_work
from .detector_targets import CANONICAL_CLASSES, CUP_CLASSES, REFINE_SCALE, canonical_to_landmark
from .preprocess import HipPreprocessed, preprocess_radiograph

DETECTOR_ID = "hip-keypoint-detector"
REFINER_ID = "hip-keypoint-refiner"
CUP_PRESENT_SCORE = 0.5
LOW_CONFIDENCE = 0.3
SHARED = ("teardrop_right", "teardrop_left", "ischium_right", "ischium_left", "pubic_symphysis")


@dataclass(frozen=True)
class SideKeypoints:
    operated_side: str  # "right" or "left"
    points_rc: dict[str, np.ndarray]  # landmark name -> (row, column), original pixels
    confidence: dict[str, float]  # detector class probability per landmark
    cup_score: float


@dataclass(frozen=True)
class HipKeypoints:
    sides: tuple[SideKeypoints, ...]
    image_shape: tuple[int, int]
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def choose_views(cup_scores: np.ndarray, side: str) -> tuple[list[int], list[str]]:
    """Which views to measure: 0 = as drawn (operated hip = patient's right), 1 = mirrored (left).

    ``auto`` takes every view whose cup scores high (both: bilateral); when none
    does, the likelier one, with a warning.
    """
    if side in ("right", "left", "both"):
        return {"right": [0], "left": [1], "both": [0, 1]}[side], []
    chosen = [view for view in (0, 1) if cup_scores[view] >= CUP_PRESENT_SCORE]
    if chosen:
        return chosen, []
    return [int(np.argmax(cup_scores))], [
        f"No cup was found with confidence (scores {cup_scores[0]:.2f} right, {cup_scores[1]:.2f} left); "
        "the likelier side was measured. Check the film, or choose the side."]


def side_results(views: list[HipPreprocessed], chosen: list[int], refined: list[np.ndarray], coarse: np.ndarray,
                 cup_scores: np.ndarray, columns: int) -> list[SideKeypoints]:
    """Refined work-pixel points of each chosen view -> landmark names and original pixels."""
    results = []
    for view_index, work_points in zip(chosen, refined):
        operated = "right" if view_index == 0 else "left"
        points, confidence = {}, {}
        for class_index, name in enumerate(CANONICAL_CLASSES):
            landmark = canonical_to_landmark(name, operated)
            points[landmark] = views[view_index].work_to_original(work_points[class_index])
            confidence[landmark] = float(coarse[view_index, class_index, 2])
        if view_index == 1:  # the mirrored view: columns back to the film's
            points = mirror_columns(points, columns)
        results.append(SideKeypoints(operated, points, confidence, float(cup_scores[view_index])))
    if len(results) == 2:  # one pelvis: both views' estimates of the shared points are averaged
        for name in SHARED:
            mean = (results[0].points_rc[name] + results[1].points_rc[name]) / 2.0
            for result in results:
                result.points_rc[name] = mean
    return results


class HipKeypointDetector:
    """The two networks, loaded once (checksums verified) and kept for every film."""

    def __init__(self, store=None, device=None) -> None:
        from ...runtime.device import select_device
        from ...runtime.store import ModelStore
        from ...runtime.torchscript import load_model

        store = store or ModelStore()
        self.device = device if device is not None else select_device()
        detector = load_model(DETECTOR_ID, store=store, device=self.device, download=False)
        refiner = load_model(REFINER_ID, store=store, device=self.device, download=False)
        self.detector_net, self.refiner_net = detector.module, refiner.module
        self.refinement_weights = dict(refiner.entry.extra.get("refinement_weights", {}))

    @classmethod
    def from_networks(cls, detector_net, refiner_net, refinement_weights: Optional[dict] = None,
                      device=None) -> "HipKeypointDetector":
        """The same detection with networks in memory (training, export): no registry, no files."""
        import torch

        self = cls.__new__(cls)
        self.device = device if device is not None else torch.device("cpu")
        self.detector_net, self.refiner_net = detector_net, refiner_net
        self.refinement_weights = dict(refinement_weights or {})
        return self

    def detect(self, pixels: np.ndarray, spacing_mm: tuple[float, float], *, side: str = "auto",
               progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> HipKeypoints:
        import torch

        if side not in ("auto", "right", "left", "both"):
            raise InputError(f"side must be auto, right, left or both, got '{side}'.")
        cancel = cancel or CancelToken()
        timings: dict[str, float] = {}
        started = time.perf_counter()
        report(progress, 0.0, "Preprocessing")
        cancel.raise_if_cancelled("Keypoint detection")
        views = [preprocess_radiograph(pixels, spacing_mm)]
        cancel.raise_if_cancelled("Keypoint detection")
        views.append(preprocess_radiograph(np.ascontiguousarray(pixels[:, ::-1]), spacing_mm))
        timings["preprocess"] = time.perf_counter() - started

        report(progress, 0.4, "Detecting keypoints")  # the callback may process a Cancel click: check after it
        cancel.raise_if_cancelled("Keypoint detection")
        began = time.perf_counter()
        batch = torch.from_numpy(np.stack([v.detector_input for v in views]))[:, None].to(self.device)
        with torch.inference_mode():
            coarse = self.detector_net.keypoints(batch).cpu().numpy()  # 2×9×(row, column, score)
        timings["detect"] = time.perf_counter() - began

        cup_scores = coarse[:, [CANONICAL_CLASSES.index(n) for n in CUP_CLASSES], 2].mean(axis=1)
        chosen, warnings = choose_views(cup_scores, side)

        report(progress, 0.7, "Refining keypoints")
        cancel.raise_if_cancelled("Keypoint detection")
        began = time.perf_counter()
        refined = self._refine([(views[v], coarse[v]) for v in chosen])
        timings["refine"] = time.perf_counter() - began
        cancel.raise_if_cancelled("Keypoint detection")  # last chance: nothing has been written yet

        results = side_results(views, chosen, refined, coarse, cup_scores, pixels.shape[1])
        for result in results:
            weak = [n for n, c in result.confidence.items() if c < LOW_CONFIDENCE]
            if weak:
                warnings.append(f"{result.operated_side} side: low confidence for {', '.join(weak)}; check those points.")
        timings["total"] = time.perf_counter() - started
        report(progress, 1.0, "Keypoints found")
        return HipKeypoints(tuple(results), tuple(pixels.shape), timings, tuple(warnings))

    def _refine(self, views: list[tuple[HipPreprocessed, np.ndarray]]) -> list[np.ndarray]:
        import torch

        crops, classes, origins, scales = [], [], [], []
        for prepared, coarse in views:
            for class_index, name in enumerate(CANONICAL_CLASSES):
                scale = REFINE_SCALE[name]
                crop, origin = crop_work(prepared.work, prepared.detector_to_work(coarse[class_index, :2]), scale)
                crops.append(crop)
                classes.append(class_index)
                origins.append(origin)
                scales.append(scale)
        with torch.inference_mode():
            located = self.refiner_net.locate(torch.from_numpy(np.stack(crops))[:, None].to(self.device),
                                                 torch.tensor(classes, device=self.device)).cpu().numpy()
        weights = self.refinement_weights
        coarse_work = [prepared.detector_to_work(coarse[i, :2]) for prepared, coarse in views for i in range(len(CANONICAL_CLASSES))]
        work_points = []
        for i in range(len(crops)):
            refined = crop_to_work(located[i, :2], origins[i], scales[i])
            weight = float(weights.get(CANONICAL_CLASSES[classes[i]], 1.0))
            work_points.append(coarse_work[i] + weight * (refined - coarse_work[i]))
        count = len(CANONICAL_CLASSES)
        return [np.stack(work_points[v * count:(v + 1) * count]) for v in range(len(views))]
