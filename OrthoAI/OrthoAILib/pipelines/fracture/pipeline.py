"""Fractures on CT: bone labels, fracture boxes on bone, and a class per fracture.

1. The CT onto the canonical axial grids (``preprocess``): 3 mm for bone labels, 2 mm for detection.
2. Bone labels by a residual 3-D U-Net (``ct-bone-labels``), then connected-component clean-up
   (``cleanup.clean_labels``: small components and islands far from the skeleton removed), the
   side of each left/right bone piece from where it lies (``cleanup.sides_by_position``), and the
   vertebrae named cervical, thoracic or lumbar by the ribs beside them (``cleanup.spine_levels_by_ribs``).
3. Fracture boxes by a 3-D FCOS detector on a ResNet-50 layout (``ct-fracture-detector``), decoded per
   pyramid level, from the CT and from its left-right mirror image, and merged by 3-D non-maximum
   suppression; boxes in patient mm with a score.
4. A box with no bone under it is discarded; the others are labelled with the bone they overlap most
   (and the others they touch).
5. Each kept box classified (``ct-fracture-classifier``: 3-D ResNet-34 with multi-scale
   self-attention): fresh, old, post-operative, suspected, other; a probability per class.
6. The bone labels back onto the input's own grid.

A volume that is not CT (no Hounsfield range) is reported as ``not_ct``; a CT with no bone found as
``no_bone``; nothing is detected on either.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ...geometry import ImageGeometry
from ...image import Image
from ...runtime.progress import CancelToken, ProgressCallback, report, scaled
from ..base import STATUS_OK, geometry_json, joined
from ..volume_grids import corners_ras
from .bones import BONE_BY_KEY, BONE_BY_VALUE
from .classes import CLASSES
from .cleanup import (MAX_GAP_MM, MIN_COMPONENT_MM3, bones_under_box, clean_labels, labels_to_input_grid,
                      sides_by_position, spine_levels_by_ribs)
from .detection import decode, nms_3d
from .grid import check_ct_grid, looks_like_ct
from .patches import lesion_patch
from .preprocess import BONE_MULTIPLE, BONE_SPACING_MM, DETECT_MULTIPLE, DETECT_SPACING_MM, network_input, to_grid

BONES_MODEL_ID = "ct-bone-labels"
DETECTOR_MODEL_ID = "ct-fracture-detector"
CLASSIFIER_MODEL_ID = "ct-fracture-classifier"
STATUS_NOT_CT = "not_ct"
STATUS_NO_BONE = "no_bone"
MIN_BONE_MM3 = 20_000.0  # less bone than a few vertebrae: not a body CT the networks can read
MIN_BONE_MM3_PER_MM = 100.0  # ...or, for a thin slab, less than this per mm of its length (a trunk has 1000+)


@dataclass(frozen=True)
class FractureOptions:
    score_threshold: float = 0.30  # detector score a finding needs: about 2 false positives per scan on the validation cases
    nms_iou: float = 0.2
    max_findings: int = 30
    min_component_mm3: float = MIN_COMPONENT_MM3
    max_gap_mm: float = MAX_GAP_MM
    bone_margin_mm: float = 3.0  # a box this close to a bone still lies on it
    labels_on_input_grid: bool = True
    mirrored_reading: bool = True  # the detector also reads the CT mirrored left-right; boxes of both merged


@dataclass(frozen=True)
class Finding:
    id: int
    bone: str  # key of the bone it overlaps most
    touches: tuple[str, ...]  # other bones under the box
    cls: str
    class_probabilities: dict
    score: float
    center_ras_mm: tuple[float, float, float]
    size_mm: tuple[float, float, float]
    box_ras_mm: tuple[tuple, tuple]  # (low, high) corners in RAS

    @property
    def title(self) -> str:
        bone = BONE_BY_KEY.get(self.bone)
        return (f"Fracture {self.id} · {bone.title if bone else self.bone} · {self.cls} "
                f"{self.class_probabilities.get(self.cls, 0.0):.2f}")

    def to_json(self) -> dict:
        return {"id": self.id, "bone": self.bone, "touches": list(self.touches), "class": self.cls,
                "class_probabilities": {k: round(v, 4) for k, v in self.class_probabilities.items()},
                "score": round(self.score, 4), "center_ras_mm": [round(v, 2) for v in self.center_ras_mm],
                "size_mm": [round(v, 2) for v in self.size_mm],
                "box_ras_mm": [[round(v, 2) for v in corner] for corner in self.box_ras_mm]}


@dataclass(frozen=True)
class FractureResult:
    status: str
    geometry: ImageGeometry
    bone_labels: Optional[np.ndarray]  # uint8 KJI on the input grid (values of ``bones.BONES``), None when refused
    findings: tuple[Finding, ...]
    message: str = ""
    warnings: tuple[str, ...] = ()
    bones_found: dict = field(default_factory=dict)  # value -> key of the bones present
    cleanup: dict = field(default_factory=dict)
    discarded_off_bone: int = 0
    timings_s: dict = field(default_factory=dict, compare=False)

    def to_json(self) -> dict:
        return {"status": self.status, "message": self.message, "geometry": geometry_json(self.geometry),
                "fractures": [f.to_json() for f in self.findings],
                "bones": {str(v): k for v, k in sorted(self.bones_found.items())},
                "discarded_off_bone": self.discarded_off_bone, "cleanup": self.cleanup,
                "warnings": list(self.warnings), "timings_s": self.timings_s,
                "note": "Research use only; not for clinical use."}

    def csv_rows(self) -> list[dict]:
        warnings = joined(self.warnings)
        if not self.findings:
            return [{"status": self.status, "fractures": 0, "warnings": warnings or self.message}]
        rows = []
        for f in self.findings:
            rows.append({"status": self.status, "fractures": len(self.findings), "id": f.id, "bone": f.bone,
                         "class": f.cls, "probability": round(f.class_probabilities[f.cls], 4), "score": round(f.score, 4),
                         "center_r_mm": round(f.center_ras_mm[0], 1), "center_a_mm": round(f.center_ras_mm[1], 1),
                         "center_s_mm": round(f.center_ras_mm[2], 1), "size_x_mm": round(f.size_mm[0], 1),
                         "size_y_mm": round(f.size_mm[1], 1), "size_z_mm": round(f.size_mm[2], 1), "warnings": warnings})
        return rows


BONE_WINDOW = 64  # the bone network's training crop: it sees the same context (and instance-norm statistics) here


def run_bone_net(net, hu: np.ndarray, device=None, progress: Optional[ProgressCallback] = None,
                 cancel: Optional[CancelToken] = None) -> np.ndarray:
    """Bone labels of a whole 3 mm volume: the network over overlapping 64³ windows (the size it was
    trained on; instance normalisation makes a whole-volume pass see other statistics), logits
    averaged, most probable label kept. Sides shorter than a window are padded with air."""
    from ...runtime.inference import sliding_window_predict

    pads = [(0, max(0, BONE_WINDOW - n)) for n in hu.shape]
    x = np.pad(network_input(hu.astype(np.float32)), pads, constant_values=-1.0)
    logits = sliding_window_predict(net, x[None], (BONE_WINDOW,) * 3, overlap=0.25, sw_batch_size=2, device=device,
                                    progress=progress, cancel=cancel)
    labels = logits.argmax(0).astype(np.uint8)
    return labels[:hu.shape[0], :hu.shape[1], :hu.shape[2]]


def run_detector(net, hu: np.ndarray, score_threshold: float = 0.05, nms_iou: float = 0.2, max_boxes: int = 50,
                 device=None, mirrored: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (voxels of the 2 mm grid) and scores on a whole volume: padded to the detector's
    multiple, run once, decoded per level, 3-D NMS. (Overlapping 96³ windows, the training crop,
    scored lower on validation cases and took five times as long: the detector sees the whole body.)
    ``mirrored``: the volume is also read mirrored left-right (the body is nearly symmetric, the
    detector trained on both sides) and the boxes of both readings merged by the same NMS."""
    boxes, scores = _detect_once(net, hu, score_threshold, device)
    if mirrored:
        width = hu.shape[2]
        flipped, flipped_scores = _detect_once(net, np.ascontiguousarray(hu[:, :, ::-1]), score_threshold, device)
        flipped[:, [2, 5]] = width - 1 - flipped[:, [5, 2]]
        boxes, scores = np.concatenate([boxes, flipped]), np.concatenate([scores, flipped_scores])
    keep = nms_3d(boxes, scores, nms_iou, max_boxes)
    return boxes[keep].reshape(-1, 6), scores[keep]


def _detect_once(net, hu: np.ndarray, score_threshold: float, device) -> tuple[np.ndarray, np.ndarray]:
    import torch

    pads = [(0, (-n) % DETECT_MULTIPLE) for n in hu.shape]
    x = np.pad(network_input(hu.astype(np.float32)), pads, constant_values=-1.0)
    with torch.no_grad():
        tensor = torch.from_numpy(x[None, None])
        if device is not None:
            tensor = tensor.to(device)
        outputs = [o[0].float().cpu().numpy() for o in net(tensor)]
    boxes, scores = decode(outputs, score_threshold)
    return boxes.copy(), scores


class FracturePipeline:
    """Make once per process (the three models load here), run per CT."""

    name = "fracture"

    def __init__(self, store=None, device=None, force_cpu: Optional[bool] = None) -> None:
        from ...runtime.device import select_device
        from ...runtime.torchscript import frozen, load_model

        self.device = device if device is not None else select_device(force_cpu)
        self.models = {model_id: load_model(model_id, store=store, device=self.device, download=False)
                       for model_id in (BONES_MODEL_ID, DETECTOR_MODEL_ID, CLASSIFIER_MODEL_ID)}
        self.bones_net = frozen(self.models[BONES_MODEL_ID].module)
        self.detector_net = frozen(self.models[DETECTOR_MODEL_ID].module)
        self.classifier_net = frozen(self.models[CLASSIFIER_MODEL_ID].module)

    def run(self, image: Image, options: Optional[FractureOptions] = None, *, progress: Optional[ProgressCallback] = None,
            cancel: Optional[CancelToken] = None) -> FractureResult:
        options = options or FractureOptions()
        warnings = list(check_ct_grid(image))
        timings: dict = {}
        clock = [time.perf_counter()]

        def lap(stage: str) -> None:
            now = time.perf_counter()
            timings[stage] = round(now - clock[0], 2)
            clock[0] = now
            if cancel is not None:
                cancel.raise_if_cancelled()

        def refuse(status: str, message: str) -> FractureResult:
            return FractureResult(status, image.geometry, None, (), message, tuple(warnings), timings_s=timings)

        if image.origin.modality not in ("", "CT"):
            return refuse(STATUS_NOT_CT, f"the series is {image.origin.modality}, not CT: the networks read CT only")
        is_ct, why = looks_like_ct(image.array)
        if not is_ct:
            return refuse(STATUS_NOT_CT, "this does not look like a CT: " + why)

        report(progress, 0.05, "bone grid (3 mm)")
        ct3, geometry3 = to_grid(image, BONE_SPACING_MM, BONE_MULTIPLE)
        lap("resample_bone_grid")
        report(progress, 0.1, "bone labels")
        raw = run_bone_net(self.bones_net, ct3, self.device, scaled(progress, 0.1, 0.3), cancel)
        lap("bone_labels")
        labels3, removed = clean_labels(raw, BONE_SPACING_MM, options.min_component_mm3, options.max_gap_mm)
        labels3, removed["pieces_moved_to_their_side"] = sides_by_position(labels3, spacing_mm=BONE_SPACING_MM)
        labels3, removed["vertebra_voxels_renamed_by_ribs"] = spine_levels_by_ribs(labels3, BONE_SPACING_MM)
        lap("cleanup")
        bone_mm3 = float((labels3 > 0).sum()) * BONE_SPACING_MM ** 3
        length_mm = float(np.ptp(corners_ras(image.array.shape, image.geometry)[:, 2]))
        needed = min(MIN_BONE_MM3, MIN_BONE_MM3_PER_MM * length_mm)
        if bone_mm3 < needed:
            return refuse(STATUS_NO_BONE, f"only {bone_mm3:.0f} mm³ of bone found over {length_mm:.0f} mm (a trunk CT has "
                                          f"over {needed:.0f}): nothing to look for fractures on")
        present = {int(v): BONE_BY_VALUE[int(v)].key for v in np.unique(labels3) if v > 0}

        report(progress, 0.35, "detection grid (2 mm)")
        ct2, geometry2 = to_grid(image, DETECT_SPACING_MM, DETECT_MULTIPLE)
        lap("resample_detection_grid")
        report(progress, 0.45, "fracture detection")
        boxes, scores = run_detector(self.detector_net, ct2, options.score_threshold, options.nms_iou,
                                     options.max_findings * 2, self.device, options.mirrored_reading)
        lap("detection")

        report(progress, 0.7, "bones under the boxes, classes")
        findings, discarded = [], 0
        kept = []
        for box, score in zip(boxes, scores):
            low_ras, high_ras = _box_ras(box, geometry2)
            under = bones_under_box(labels3, geometry3, low_ras, high_ras, options.bone_margin_mm)
            if not under:
                discarded += 1
                continue
            kept.append((box, float(score), low_ras, high_ras, under))
            if len(kept) >= options.max_findings:
                break
        probabilities = self._classify(ct2, [k[0] for k in kept])
        for index, ((box, score, low_ras, high_ras, under), p) in enumerate(zip(kept, probabilities), start=1):
            values = list(under)
            main = values[0]
            touches = tuple(BONE_BY_VALUE[v].key for v in values[1:] if under[v] >= 0.1 * under[main])
            class_p = {c: float(v) for c, v in zip(CLASSES, p)}
            findings.append(Finding(index, BONE_BY_VALUE[main].key, touches, CLASSES[int(np.argmax(p))], class_p, score,
                                    tuple(float(v) for v in (low_ras + high_ras) / 2),
                                    tuple(float(v) for v in high_ras - low_ras),
                                    (tuple(float(v) for v in low_ras), tuple(float(v) for v in high_ras))))
        lap("classification")

        report(progress, 0.8, "bone labels onto the input grid")
        labels = labels_to_input_grid(labels3, geometry3, image) if options.labels_on_input_grid else None
        lap("labels_to_input_grid")
        timings["total"] = round(sum(timings.values()), 2)
        report(progress, 1.0, "done")
        message = (f"{len(findings)} finding(s) on bone" if findings else "no fracture found") + \
                  (f"; {discarded} box(es) off bone discarded" if discarded else "")
        return FractureResult(STATUS_OK, image.geometry, labels, tuple(findings), message, tuple(warnings), present,
                              removed, discarded, timings)

    def _classify(self, ct2: np.ndarray, boxes) -> list[np.ndarray]:
        import torch

        if not boxes:
            return []
        patches = np.stack([lesion_patch(ct2, (b[:3] + b[3:]) / 2) for b in boxes])
        with torch.no_grad():
            logits = self.classifier_net(torch.from_numpy(patches).to(self.device))
            return list(torch.softmax(logits.float(), 1).cpu().numpy())


def _box_ras(box: np.ndarray, geometry: ImageGeometry) -> tuple[np.ndarray, np.ndarray]:
    """A (k0, j0, i0, k1, j1, i1) box in continuous voxel coordinates as RAS low/high corners."""
    corners = np.array([[box[2], box[1], box[0]], [box[5], box[4], box[3]]])
    ras = geometry.ijk_to_world(corners)
    return ras.min(0), ras.max(0)
