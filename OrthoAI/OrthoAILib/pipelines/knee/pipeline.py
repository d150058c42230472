"""Two-stage knee cartilage segmentation on MR, then biomarkers.

1. Preprocessing: the whole volume onto the coarse canonical grid (2.8 mm), N4 bias field there,
   intensity normalisation.
2. Stage 1 (residual U-Net): the cartilage region; 3-D connected components of it, those under
   ``min_region_mm3`` removed, the rest joined into one box, widened by ``margin_mm``. On the same
   grid, the coarse bone network (the same U-Net) finds the tibia and the fibula.
3. Stage 2 (3-D ResNet + ASPP): the box on the fine canonical grid (0.7 mm), bias-corrected with the
   coarse field, denoised, normalised; background, four plates and the bones per voxel (femur, tibia,
   patella, and the fibula where the network has that class). Pieces of a plate more than 6 mm from
   its bone are dropped (``cartilage_on_bone``), and the two tibial plates get one side of the knee
   each (``sides.tibial_sides``: chiefly by the fibula, which stands lateral; the coarse bone network
   finds it on the whole knee at step 2).
4. The class probabilities sampled back onto the input's own grid (trilinear, through patient space)
   and the most probable class kept; plate islands under ``min_island_mm3`` dropped. Labels: 1 femoral,
   2 medial tibial, 3 lateral tibial, 4 patellar cartilage.
5. Biomarkers (``biomarkers.measure_labelmap``).

A volume where stage 1 finds no region, or stage 2 less cartilage than any knee has, is reported as
``no_cartilage`` with nothing measured; a CT (Hounsfield units) as ``not_mr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ...geometry import ImageGeometry
from ...image import Image
from ...runtime.progress import CancelToken, ProgressCallback, report
from ..base import STATUS_OK, geometry_json
from .biomarkers import KneeBiomarkers, measure_labelmap
from .grid import check_knee_grid
from .plates import DEFAULT_LABELS
from .preprocess import (FINE_SPACING_MM, STAGE1_FACTOR, antialiased_crop, canonical_grid, corners_ras, denoise,
                         n4_log_bias, resample, resample_to_canonical)
from .sides import RULE_WORDS, WEAK_RULES, fibula_position, tibial_sides

REGION_MODEL_ID = "knee-cartilage-region"
PLATES_MODEL_ID = "knee-cartilage-plates"
FIBULA_MODEL_ID = "knee-fibula"
STATUS_NO_CARTILAGE = "no_cartilage"
STATUS_NOT_MR = "not_mr"
MIN_CARTILAGE_MM3 = 1500.0  # an adult knee has ~10 000 mm³ of femoral cartilage alone


@dataclass(frozen=True)
class KneeOptions:
    min_region_mm3: float = 2000.0  # stage-1 components smaller than this are noise (a plate is >1000 mm³)
    margin_mm: float = 12.0  # around the joined region: plates reach past stage 1's coarse edge
    min_island_mm3: float = 20.0  # plate islands smaller than this are dropped
    measure: bool = True


@dataclass(frozen=True)
class KneeResult:
    status: str
    geometry: ImageGeometry
    labelmap: Optional[np.ndarray]  # uint8 KJI on the input grid (1-4), None when refused
    biomarkers: Optional[KneeBiomarkers]
    message: str = ""
    warnings: tuple[str, ...] = ()
    region_box_ras: Optional[tuple] = None
    timings_s: dict = field(default_factory=dict, compare=False)
    tibial_sides: dict = field(default_factory=dict)  # which rule put the tibial plates on their sides

    def to_json(self) -> dict:
        out = {"status": self.status, "message": self.message, "geometry": geometry_json(self.geometry),
               "labels": {"1": "femoral cartilage", "2": "medial tibial cartilage", "3": "lateral tibial cartilage",
                          "4": "patellar cartilage"},
               "warnings": list(self.warnings), "timings_s": self.timings_s}
        if self.tibial_sides:
            out["tibial_sides"] = self.tibial_sides
        if self.region_box_ras is not None:
            out["cartilage_region_ras_mm"] = [[round(v, 1) for v in corner] for corner in self.region_box_ras]
        if self.biomarkers is not None:
            out.update({k: v for k, v in self.biomarkers.to_json().items() if k != "warnings"})
        return out

    def csv_rows(self) -> list[dict]:
        warnings = "; ".join(self.warnings)
        if self.biomarkers is None or not self.biomarkers.plates:
            return [{"status": self.status, "warnings": warnings or self.message}]
        return [{"status": self.status, **row, "warnings": warnings} for row in self.biomarkers.csv_rows()]


def looks_like_ct(array: np.ndarray) -> bool:
    """Hounsfield units: a large share of the volume at air (-1000) or well below zero."""
    sample = array[::4, ::4, ::4]
    return float(np.mean(sample < -500)) > 0.05


def _largest_components(mask: np.ndarray, min_voxels: int) -> np.ndarray:
    from scipy import ndimage

    labelled, count = ndimage.label(mask, structure=np.ones((3, 3, 3)))
    if count == 0:
        return mask
    sizes = np.bincount(labelled.ravel())
    keep = np.flatnonzero(sizes >= min_voxels)
    keep = keep[keep > 0]
    return np.isin(labelled, keep)


PLATE_BONES = ((1, 5), (2, 6), (3, 6), (4, 7))  # plate class -> the bone class it lies on (stage 2)
MAX_FROM_BONE_MM = 6.0  # cartilage is at most ~6 mm thick (patella): farther from its bone it is not cartilage
MIN_BONE_VOXELS = 2000  # with less of the bone found, the rule is not applied (nothing to lean on)


def cartilage_on_bone(probabilities: np.ndarray, spacing_mm: float = FINE_SPACING_MM) -> np.ndarray:
    """Cartilage only where it can be: voxels of a plate farther than ``MAX_FROM_BONE_MM`` from the
    plate's bone as stage 2 found it (femoral from the femur, tibial from the tibia, patellar from the
    patella) lose that class, and the next most probable class takes them. Skin folds and fat edges
    that look like a thin bright layer are the usual such voxels on real scans."""
    from scipy import ndimage

    labels = probabilities.argmax(0)
    out = probabilities
    distances = {}
    for plate, bone in PLATE_BONES:
        mask = labels == plate
        if not mask.any():
            continue
        if bone not in distances:
            bone_mask = labels == bone
            distances[bone] = (ndimage.distance_transform_edt(~bone_mask) * spacing_mm
                               if bone_mask.sum() >= MIN_BONE_VOXELS else None)
        if distances[bone] is None:
            continue
        drop = mask & (distances[bone] > MAX_FROM_BONE_MM)
        if drop.any():
            if out is probabilities:
                out = probabilities.copy()
            out[plate][drop] = 0.0
    return out


class KneeCartilagePipeline:
    """Make once per process (the three models load here), run per volume."""

    name = "knee"

    def __init__(self, store=None, device=None, force_cpu: Optional[bool] = None) -> None:
        from ...runtime.device import select_device
        from ...runtime.torchscript import frozen, load_model

        self.device = device if device is not None else select_device(force_cpu)
        self.region_model = load_model(REGION_MODEL_ID, store=store, device=self.device, download=False)
        self.plates_model = load_model(PLATES_MODEL_ID, store=store, device=self.device, download=False)
        self.fibula_model = load_model(FIBULA_MODEL_ID, store=store, device=self.device, download=False)
        self.region_net = frozen(self.region_model.module)
        self.plates_net = frozen(self.plates_model.module)
        self.fibula_net = frozen(self.fibula_model.module)

    def _predict(self, net, array: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            x = torch.from_numpy(array[None, None].astype(np.float32)).to(self.device)
            return torch.softmax(net(x), 1)[0].cpu().numpy()

    def run(self, image: Image, options: Optional[KneeOptions] = None, *, progress: Optional[ProgressCallback] = None,
            cancel: Optional[CancelToken] = None) -> KneeResult:
        import time

        from ...phantoms.knee_mr import normalise_intensities

        options = options or KneeOptions()
        warnings = list(check_knee_grid(image, "volume"))
        timings = {}
        started = time.perf_counter()

        def refuse(status: str, message: str) -> KneeResult:
            return KneeResult(status, image.geometry, None, None, message, tuple(warnings), timings_s=timings)

        if image.origin.modality not in ("", "MR") or looks_like_ct(image.array):
            return refuse(STATUS_NOT_MR, "this is not an MR volume (Hounsfield units, or another modality): "
                                         "the cartilage networks were trained on knee MR only")
        report(progress, 0.05, "bias field and coarse grid")
        coarse, coarse_geometry = resample_to_canonical(image, FINE_SPACING_MM * STAGE1_FACTOR, multiple=8)
        log_bias = n4_log_bias(coarse, coarse_geometry)
        coarse_input = normalise_intensities(coarse / np.exp(log_bias))
        timings["preprocess_coarse"] = round(time.perf_counter() - started, 2)
        if cancel is not None:
            cancel.raise_if_cancelled()

        report(progress, 0.2, "stage 1: cartilage region")
        region = self._predict(self.region_net, coarse_input)[1] > 0.5
        voxel_mm3 = (FINE_SPACING_MM * STAGE1_FACTOR) ** 3
        region = _largest_components(region, int(np.ceil(options.min_region_mm3 / voxel_mm3)))
        timings["stage1"] = round(time.perf_counter() - started - sum(timings.values()), 2)
        if not region.any():
            return refuse(STATUS_NO_CARTILAGE, "no cartilage region found: this does not look like a knee MR "
                                               "(or the knee lies outside the volume)")
        fibula = fibula_position(self._predict(self.fibula_net, coarse_input), voxel_mm3)
        found = np.argwhere(region)
        corners = coarse_geometry.ijk_to_world(np.array([found.min(0) - 0.5, found.max(0) + 0.5])[:, ::-1])
        low = corners.min(0) - options.margin_mm
        high = corners.max(0) + options.margin_mm
        inside = corners_ras(image.array.shape, image.geometry)  # the crop never reaches past the input
        low, high = np.maximum(low, inside.min(0)), np.minimum(high, inside.max(0))
        if cancel is not None:
            cancel.raise_if_cancelled()

        report(progress, 0.3, "stage 2: plates")
        fine_shape, fine_geometry = canonical_grid(low, high, FINE_SPACING_MM, multiple=4)
        source, source_geometry = antialiased_crop(image, low, high, FINE_SPACING_MM)
        fine = resample(source, source_geometry, fine_shape, fine_geometry)
        bias = resample(log_bias, coarse_geometry, fine_shape, fine_geometry)
        fine_input = normalise_intensities(denoise(fine / np.exp(bias), fine_geometry))
        fibula_ras = None if fibula is None else coarse_geometry.ijk_to_world(fibula[::-1])
        fibula_k = None if fibula_ras is None else float(fine_geometry.world_to_ijk(fibula_ras)[2])
        probabilities, sides_rule = tibial_sides(cartilage_on_bone(self._predict(self.plates_net, fine_input)),
                                                 fibula_k, FINE_SPACING_MM)
        sides = {"decided_by": sides_rule,
                 "fibula_ras_mm": None if fibula_ras is None else [round(float(v), 1) for v in fibula_ras]}
        if sides_rule in WEAK_RULES:
            warnings.append(f"which tibial plate is medial was decided by {RULE_WORDS[sides_rule]} alone (no fibula "
                            f"found beside the knee): check the medial and lateral labels before using them")
        timings["stage2"] = round(time.perf_counter() - started - sum(timings.values()), 2)
        if cancel is not None:
            cancel.raise_if_cancelled()

        report(progress, 0.6, "labels back onto the input grid")
        labelmap = self._to_input_grid(probabilities, fine_geometry, image, options)
        timings["to_input_grid"] = round(time.perf_counter() - started - sum(timings.values()), 2)
        voxel = float(np.prod(image.true_spacing_ijk))
        if float((labelmap > 0).sum()) * voxel < MIN_CARTILAGE_MM3:
            return refuse(STATUS_NO_CARTILAGE, f"only {float((labelmap > 0).sum()) * voxel:.0f} mm³ of cartilage found "
                                               f"(a knee has over {MIN_CARTILAGE_MM3:.0f}): not measured")
        biomarkers = None
        if options.measure:
            report(progress, 0.75, "biomarkers")
            biomarkers = measure_labelmap(labelmap, image.geometry, DEFAULT_LABELS, cancel=cancel)
            warnings += biomarkers.warnings
            timings["biomarkers"] = round(time.perf_counter() - started - sum(timings.values()), 2)
        timings["total"] = round(time.perf_counter() - started, 2)
        report(progress, 1.0, "done")
        return KneeResult(STATUS_OK, image.geometry, labelmap, biomarkers,
                          "cartilage segmented" + (" and measured" if options.measure else ""), tuple(warnings),
                          (tuple(low), tuple(high)), timings, sides)

    def _to_input_grid(self, probabilities: np.ndarray, fine_geometry: ImageGeometry, image: Image,
                       options: KneeOptions) -> np.ndarray:
        """Class probabilities sampled onto the input grid inside the crop's box, most probable kept."""
        corners = corners_ras(probabilities.shape[1:], fine_geometry)
        ijk = image.geometry.world_to_ijk(corners)
        low = np.maximum(np.floor(ijk.min(0)).astype(int), 0)[::-1]
        high = np.minimum(np.ceil(ijk.max(0)).astype(int) + 1, np.array(image.array.shape[::-1]))[::-1]
        box_shape = tuple(int(h - l) for l, h in zip(low, high))
        box_origin = image.geometry.ijk_to_world(low[::-1].astype(float))
        box_geometry = ImageGeometry(image.geometry.spacing, tuple(box_origin), image.geometry.directions)
        # Bones are not output: the most probable of background and bones stands for "not cartilage"
        # (the same winner as all classes competing, with three resamplings fewer).
        classes = np.concatenate([np.maximum(probabilities[:1], probabilities[5:].max(0, keepdims=True)), probabilities[1:5]])
        best = np.zeros(box_shape, dtype=np.float32)
        labels = np.zeros(box_shape, dtype=np.uint8)
        for channel in range(classes.shape[0]):
            sampled = resample(classes[channel], fine_geometry, box_shape, box_geometry, default=1.0 if channel == 0 else 0.0)
            better = sampled > best
            best = np.where(better, sampled, best)
            labels[better] = channel
        min_voxels = int(np.ceil(options.min_island_mm3 / float(np.prod(image.true_spacing_ijk))))
        for value in (1, 2, 3, 4):
            plate = labels == value
            labels[plate & ~_largest_components(plate, min_voxels)] = 0
        out = np.zeros(image.array.shape, dtype=np.uint8)
        out[tuple(slice(l, h) for l, h in zip(low, high))] = labels
        return out
