"""Fetal head ultrasound: segmentation → ellipse → biometry → head-shape class → Grad-CAM heatmap.

``Image`` (a 2-D greyscale still; pixel size from DICOM ultrasound regions, the user, or none)
→ the segmenter on a letterboxed network grid → the largest head region, its sub-pixel boundary
and a fitted ellipse in the still's pixels → presence decision (``presence.py``; a refused image
gets no measures) → HC, BPD, OFD, CI in mm and, with a gestational age, HC z-score, centile and
flags (``biometry.py``) → a square crop around the ellipse, contrast-enhanced, classified by head
shape, with Grad-CAM of the class (``crop.py``, ``heatmap.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
from scipy import ndimage

from ...errors import InputError
from ...geometry import ImageGeometry
from ...image import Image
from ...runtime.progress import CancelToken, ProgressCallback, report
from ..base import geometry_json, joined
from ..masks import largest_component
from .biometry import SHAPE_CLASSES, Biometry, GrowthAssessment, biometry, growth_assessment, shape_class
from .calibration import EDGE_OFFSET_PX
from .ellipse import Ellipse, fit_ellipse, mask_boundary
from .presence import OK, PresenceScores, PresenceThresholds, decide

SEGMENTER_ID = "fetal-head-seg"
CLASSIFIER_ID = "fetal-head-shape"
CSV_COLUMNS = ("input", "status", "head_found", "hc_mm", "bpd_mm", "ofd_mm", "cephalic_index", "ga_weeks",
               "hc_z_score", "hc_centile", "class", "class_probability", "cephalic_index_class", "flags",
               "pixel_size_mm", "pixel_size_source", "confidence", "ellipse_fit", "warnings")
BORDER_MARGIN_FRACTION = 0.01  # an ellipse may touch the border by this share of the image size


@dataclass(frozen=True)
class FetalOptions:
    ga_weeks: Optional[float] = None  # gestational age in exact weeks, for the growth standard

    def __post_init__(self) -> None:
        if self.ga_weeks is not None and not (np.isfinite(self.ga_weeks) and 5 <= self.ga_weeks <= 45):
            raise InputError(f"--ga-weeks {self.ga_weeks}: give the gestational age in weeks (5 to 45, e.g. 22.4).")


@dataclass(frozen=True)
class Measures:
    """What follows from one ellipse: the pipeline's, or one the user adjusted."""

    ellipse: Ellipse
    biometry: Optional[Biometry]  # None without a pixel size
    growth: Optional[GrowthAssessment]
    cephalic_index_class: str
    flags: tuple[str, ...]
    warnings: tuple[str, ...]


def measure_ellipse(ellipse: Ellipse, pixel_size_xy: Optional[tuple[float, float]], ga_weeks: Optional[float]) -> Measures:
    """Biometry, growth flags and the cephalic-index class of ``ellipse`` (the user's edits too)."""
    a, b = ellipse.semi_axes_px
    warnings: tuple[str, ...] = ()
    if pixel_size_xy is None:
        measured, growth = None, None
        ratio = 100.0 * b / a if a > 0 else float("nan")
        warnings = ("no_pixel_size: lengths need the pixel size (DICOM ultrasound regions, --pixel-size or "
                    "--pixel-size-csv); only the cephalic index is given",)
    else:
        measured = biometry(ellipse, pixel_size_xy)
        ratio = measured.cephalic_index
        growth, growth_warnings = growth_assessment(measured.hc_mm, ga_weeks)
        warnings += growth_warnings
    flags = growth.flags if growth else ()
    ci_class = shape_class(ratio)
    if ci_class != "normal":
        flags = flags + (ci_class,)
    return Measures(ellipse, measured, growth, ci_class, flags, warnings)


@dataclass(frozen=True)
class FetalResult:
    source: str
    geometry: ImageGeometry
    status: str
    message: str
    presence: Optional[PresenceScores]
    pixel_size_mm: Optional[tuple[float, float]]  # (x, y)
    pixel_size_source: str
    measures: Optional[Measures] = None
    shape_class: Optional[str] = None
    class_probabilities: dict = field(default_factory=dict)
    mask: Optional[np.ndarray] = field(default=None, repr=False)  # bool, the still's rows × columns
    heatmap: Optional[np.ndarray] = field(default=None, repr=False)  # float 0..1 on the still's grid
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()

    @property
    def head_found(self) -> bool:
        return self.status == OK

    @property
    def flags(self) -> tuple[str, ...]:
        return self.measures.flags if self.measures else ()

    def to_json(self) -> dict:
        m = self.measures
        values = m.biometry.to_json() if m and m.biometry else {"hc_mm": None, "bpd_mm": None, "ofd_mm": None,
                                                                  "cephalic_index": None}
        if m and not m.biometry:
            a, b = m.ellipse.semi_axes_px
            values["cephalic_index"] = round(100.0 * b / a, 2)
        return {
            "source": self.source, "status": self.status, "head_found": self.head_found, "message": self.message,
            **values,
            "ellipse": m.ellipse.to_json() if m else None,
            "class": self.shape_class,
            "class_probabilities": {k: round(v, 4) for k, v in self.class_probabilities.items()},
            "cephalic_index_class": m.cephalic_index_class if m else None,
            "flags": list(self.flags),
            "growth": m.growth.to_json() if m and m.growth else None,
            "pixel_size_mm": list(self.pixel_size_mm) if self.pixel_size_mm else None,
            "pixel_size_source": self.pixel_size_source,
            "presence": self.presence.to_json() if self.presence else None,
            "models": [SEGMENTER_ID, CLASSIFIER_ID],
            "geometry": geometry_json(self.geometry),
            "seconds": round(self.seconds, 3), "warnings": list(self.warnings),
            "intended_use": "research only; not for clinical use",
        }

    def csv_rows(self) -> list[dict]:
        data = self.to_json()
        growth = data["growth"] or {}
        return [{"status": self.status, "head_found": self.head_found,
                 **{k: data[k] for k in ("hc_mm", "bpd_mm", "ofd_mm", "cephalic_index", "class", "cephalic_index_class")},
                 "ga_weeks": growth.get("ga_weeks", ""), "hc_z_score": growth.get("hc_z_score", ""),
                 "hc_centile": growth.get("hc_centile", ""),
                 "class_probability": data["class_probabilities"].get(self.shape_class, "") if self.shape_class else "",
                 "flags": joined(self.flags),
                 "pixel_size_mm": "" if not self.pixel_size_mm else round(self.pixel_size_mm[0], 6),
                 "pixel_size_source": self.pixel_size_source,
                 "confidence": "" if not self.presence else round(self.presence.confidence, 4),
                 "ellipse_fit": "" if not self.presence else round(self.presence.ellipse_fit, 4),
                 "warnings": joined(self.warnings)}]


def pixel_size_of(image: Image) -> Optional[tuple[float, float]]:
    """(x, y) pixel size in mm, or None when the still carries none (a PNG without ``--pixel-size``)."""
    if not image.origin.spacing_calibrated:
        return None
    rows, cols = image.pixel_spacing_rc
    return (float(cols), float(rows))


@dataclass(frozen=True)
class HeadSearch:
    """The segmentation of one still and what it shows, before measuring."""

    logits: np.ndarray = field(repr=False)  # on the network grid
    box: Any  # the Letterbox that maps the grid to the still
    ellipse: Optional[Ellipse]  # the segmented region's ellipse in the still's pixels (edge offset not applied)
    scores: PresenceScores
    status: str
    message: str


class FetalHeadPipeline:
    name = "fetal"

    def __init__(self, store=None, device=None, force_cpu: Optional[bool] = None) -> None:
        from ...runtime.device import select_device
        from ...runtime.torchscript import load_model

        device = device if device is not None else select_device(force_cpu)
        self.segmenter = load_model(SEGMENTER_ID, store=store, device=device, download=False)
        self.classifier = load_model(CLASSIFIER_ID, store=store, device=device, download=False)
        self.thresholds = PresenceThresholds.from_entry(self.segmenter.entry.extra)
        self.device = device

    # -- steps ---------------------------------------------------------------------------------
    def segment(self, plane: np.ndarray):
        """``(logits on the network grid, letterbox)``."""
        import torch

        from .preprocess import network_input

        x, box = network_input(plane)
        with torch.no_grad():
            logits = self.segmenter.module(torch.from_numpy(x)[None, None].to(self.device))[0, 0].cpu().numpy()
        return logits, box

    def locate(self, logits: np.ndarray, box, image_shape: tuple[int, int]):
        """``(ellipse of the segmented region in image pixels, presence scores)``."""
        from .preprocess import NET_SHAPE

        region = largest_component(logits > 0)
        valid_pixels = (image_shape[0] * box.scale) * (image_shape[1] * box.scale)
        if not region.any():
            return None, PresenceScores(0.0, 0.0, 0.0, False)
        probability = 1.0 / (1.0 + np.exp(-logits))
        confidence = float(probability[region].mean())
        area_fraction = float(region.sum() / valid_pixels)
        boundary = mask_boundary(np.where(region, logits, np.minimum(logits, -10.0)), 0.0)
        fitted = fit_ellipse(boundary) if boundary is not None else None
        if fitted is None:
            return None, PresenceScores(confidence, 0.0, area_fraction, False)
        points_rc = box.to_image(boundary[:, ::-1])
        ellipse = fit_ellipse(points_rc[:, ::-1])
        if ellipse is None:
            return None, PresenceScores(confidence, 0.0, area_fraction, False)
        on_grid = fitted.mask(NET_SHAPE)
        fit = float((on_grid & region).sum() / max((on_grid | region).sum(), 1))
        margin = BORDER_MARGIN_FRACTION * max(image_shape)
        return ellipse, PresenceScores(confidence, fit, area_fraction, ellipse.inside_image(image_shape, margin))

    def find_head(self, plane: np.ndarray) -> HeadSearch:
        """Segment, fit and decide: the steps before anything is measured (also what calibration runs)."""
        logits, box = self.segment(plane)
        ellipse, scores = self.locate(logits, box, plane.shape)
        status, message = decide(scores if ellipse is not None else None, self.thresholds)
        return HeadSearch(logits, box, ellipse, scores, status, message)

    def image_mask(self, logits: np.ndarray, box, image_shape: tuple[int, int]) -> np.ndarray:
        """The segmentation on the still's grid: logits sampled bilinearly, largest region kept."""
        from .preprocess import letterbox_matrix

        to_network = np.linalg.inv(letterbox_matrix(box))
        sampled = ndimage.affine_transform(logits, to_network[:2, :2], offset=to_network[:2, 2], output_shape=image_shape,
                                           order=1, mode="nearest")
        return largest_component(sampled > 0)

    def classify(self, plane: np.ndarray, ellipse: Ellipse):
        """``(class, probabilities, Grad-CAM on the still's grid)``."""
        from .crop import head_crop
        from .heatmap import grad_cam, to_image

        crop, matrix = head_crop(plane, ellipse)
        probabilities, cam = grad_cam(self.classifier.module, crop, device=self.device)
        chosen = SHAPE_CLASSES[int(np.argmax(probabilities))]
        return chosen, {name: float(p) for name, p in zip(SHAPE_CLASSES, probabilities)}, to_image(cam, matrix, plane.shape)

    # -- the contract ------------------------------------------------------------------------------
    def run(self, image: Image, options: Optional[FetalOptions] = None, *, progress: Optional[ProgressCallback] = None,
            cancel: Optional[CancelToken] = None) -> FetalResult:
        options = options or FetalOptions()
        started = time.perf_counter()
        plane = image.plane.astype(np.float32)
        pixel_size = pixel_size_of(image)
        source = image.origin.spacing_source if pixel_size else "none"
        if cancel is not None:
            cancel.raise_if_cancelled("Fetal head analysis")
        report(progress, 0.05, "Segmenting the head")
        search = self.find_head(plane)
        if search.status != OK:
            report(progress, 1.0, "No head measured")
            return FetalResult(image.origin.name, image.geometry, search.status, search.message, search.scores,
                               pixel_size, source, seconds=time.perf_counter() - started,
                               warnings=(f"{search.status}: {search.message}",))
        if cancel is not None:
            cancel.raise_if_cancelled("Fetal head analysis")
        ellipse = search.ellipse.grown(EDGE_OFFSET_PX)  # the segmenter's edge -> the annotators' ellipse
        measures = measure_ellipse(ellipse, pixel_size, options.ga_weeks)
        report(progress, 0.5, "Classifying the head shape")
        chosen, probabilities, heatmap = self.classify(plane, ellipse)
        warnings = measures.warnings
        if chosen != measures.cephalic_index_class:
            warnings += (f"class_disagrees_with_cephalic_index: the classifier says {chosen}, the ellipse's cephalic "
                         f"index says {measures.cephalic_index_class}",)
        mask = self.image_mask(search.logits, search.box, plane.shape)
        report(progress, 1.0, "Done")
        return FetalResult(image.origin.name, image.geometry, OK, "", search.scores, pixel_size, source, measures, chosen,
                           probabilities, mask, heatmap, time.perf_counter() - started, warnings)
