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
from ...runtime.progress import CancelToken, ProgressCallback, report
from .crops import crop_to_work, crop_work
from .detector_targets import CANONICAL_CLASSES, CUP_CLASSES, REFINE_SCALE, canonical_to_landmark
from .presence import PresenceThresholds, Refusal, cup_scores, decide, pelvis_score
from .preprocess import HipPreprocessed, preprocess_both_views

DETECTOR_ID = "hip-keypoint-detector"
REFINER_ID = "hip-keypoint-refiner"
LOW_CONFIDENCE = 0.3
SHARED = ("teardrop_right", "teardrop_left", "ischium_right", "ischium_left", "pubic_symphysis")
# A point whose two estimates (the two views, or the detector and the refiner) lie further apart
# than this is flagged: on held-out films 95 % of points agree within about 1 mm.
CONSISTENCY_WARNING_MM = 3.0


@dataclass(frozen=True)
class SideKeypoints:
    operated_side: str  # "right" or "left"
    points_rc: dict[str, np.ndarray]  # landmark name -> (row, column), original pixels
    confidence: dict[str, float]  # detector class probability per landmark
    cup_score: float
    consistency_mm: dict[str, float] = field(default_factory=dict)  # disagreement of two estimates per landmark


@dataclass(frozen=True)
class HipKeypoints:
    sides: tuple[SideKeypoints, ...]
    image_shape: tuple[int, int]
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    cup_scores: tuple[float, float] = (0.0, 0.0)  # as drawn (patient's right hip), mirrored (left)
    pelvis_score: float = 0.0
    refused: tuple[Refusal, ...] = ()


def view_points(view: HipPreprocessed, work_points: np.ndarray, view_index: int, columns: int) -> np.ndarray:
    """Work-pixel points of a view -> (row, column) in the film's own pixels."""
    points = np.array([view.work_to_original(p) for p in work_points])
    if view_index == 1:  # the mirrored view: columns back to the film's
        points[:, 1] = columns - 1 - points[:, 1]
    return points


def consistency(views: list[HipPreprocessed], view_index: int, refined: np.ndarray, coarse: np.ndarray,
                columns: int) -> dict[str, float]:
    """Per canonical class, how far two estimates of the point lie apart (mm): the pelvic points
    as found in the two views; the cup and contralateral points as detected and as refined."""
    spacing = np.asarray(views[0].original_spacing_mm)
    this = view_points(views[view_index], [views[view_index].detector_to_work(c[:2]) for c in coarse[view_index]],
                       view_index, columns)
    other_index = 1 - view_index
    other = view_points(views[other_index], [views[other_index].detector_to_work(c[:2]) for c in coarse[other_index]],
                        other_index, columns)
    refined_points = view_points(views[view_index], refined, view_index, columns)
    result = {}
    for class_index, name in enumerate(CANONICAL_CLASSES):
        if name in CUP_CLASSES or name == "contralateral_center":
            difference = refined_points[class_index] - this[class_index]
        else:  # near and far swap between the views; the symphysis is itself
            swapped = {"teardrop_near": "teardrop_far", "teardrop_far": "teardrop_near",
                       "ischium_near": "ischium_far", "ischium_far": "ischium_near"}.get(name, name)
            difference = this[class_index] - other[CANONICAL_CLASSES.index(swapped)]
        result[name] = float(np.linalg.norm(difference * spacing))
    return result


def side_results(views: list[HipPreprocessed], chosen: list[int], refined: list[np.ndarray], coarse: np.ndarray,
                 cup_scores: np.ndarray, columns: int) -> list[SideKeypoints]:
    """Refined work-pixel points of each chosen view -> landmark names and original pixels."""
    results = []
    for view_index, work_points in zip(chosen, refined):
        operated = "right" if view_index == 0 else "left"
        film_points = view_points(views[view_index], work_points, view_index, columns)
        agreement = consistency(views, view_index, work_points, coarse, columns)
        points, confidence, agree = {}, {}, {}
        for class_index, name in enumerate(CANONICAL_CLASSES):
            landmark = canonical_to_landmark(name, operated)
            points[landmark] = film_points[class_index]
            confidence[landmark] = float(coarse[view_index, class_index, 2])
            agree[landmark] = round(agreement[name], 3)
        results.append(SideKeypoints(operated, points, confidence, float(cup_scores[view_index]), agree))
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
        self.presence = PresenceThresholds.from_entry(detector.entry.extra)

    @classmethod
    def from_networks(cls, detector_net, refiner_net, refinement_weights: Optional[dict] = None,
                      device=None, presence: Optional[PresenceThresholds] = None) -> "HipKeypointDetector":
        """The same detection with networks in memory (training, export): no registry, no files."""
        import torch

        self = cls.__new__(cls)
        self.device = device if device is not None else torch.device("cpu")
        self.detector_net, self.refiner_net = detector_net, refiner_net
        self.refinement_weights = dict(refinement_weights or {})
        self.presence = presence or PresenceThresholds()
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
        views = preprocess_both_views(pixels, spacing_mm)  # the film as it is and mirrored
        timings["preprocess"] = time.perf_counter() - started

        report(progress, 0.4, "Detecting keypoints")  # the callback may process a Cancel click: check after it
        cancel.raise_if_cancelled("Keypoint detection")
        began = time.perf_counter()
        batch = torch.from_numpy(np.stack([v.detector_input for v in views]))[:, None].to(self.device)
        with torch.inference_mode():
            coarse = self.detector_net.keypoints(batch).cpu().numpy()  # 2×9×(row, column, score)
        timings["detect"] = time.perf_counter() - began

        cups, pelvis = cup_scores(coarse), pelvis_score(coarse)
        chosen, refused, warnings = decide(cups, pelvis, side, self.presence)

        report(progress, 0.7, "Refining keypoints")
        cancel.raise_if_cancelled("Keypoint detection")
        began = time.perf_counter()
        refined = self._refine([(views[v], coarse[v]) for v in chosen]) if chosen else []
        timings["refine"] = time.perf_counter() - began
        cancel.raise_if_cancelled("Keypoint detection")  # last chance: nothing has been written yet

        results = side_results(views, chosen, refined, coarse, cups, pixels.shape[1])
        for result in results:
            weak = [n for n, c in result.confidence.items() if c < LOW_CONFIDENCE]
            if weak:
                warnings.append(f"{result.operated_side} side: low confidence for {', '.join(weak)}; check those points.")
            apart = [f"{n} ({d:.1f} mm)" for n, d in result.consistency_mm.items() if d > CONSISTENCY_WARNING_MM]
            if apart:
                warnings.append(f"inconsistent_points: {result.operated_side} side: two estimates disagree for "
                                f"{', '.join(apart)}; check those points.")
        timings["total"] = time.perf_counter() - started
        report(progress, 1.0, "Keypoints found" if results else "Nothing to measure")
        return HipKeypoints(tuple(results), tuple(pixels.shape), timings, tuple(warnings),
                            (float(cups[0]), float(cups[1])), pelvis, tuple(refused))

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
