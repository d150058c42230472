"""The endoscopy lesion pipeline: frame → depth → depth-guided segmentation → lesions, fused onto the frame.

``EndoscopyPipeline.run(image)`` takes a one-slice colour :class:`Image` (``1×H×W×3``). Steps:
preprocessing (``preprocess.py``: field of view, crop, both grids), the frame check
(``presence.py``: a frame that is not a colour endoscopy frame is refused and nothing is measured),
depth (``nets/endoscopy_depth.py``: global, local, superposed, refined), the depth-guided segmenter
(``nets/depth_guided_seg.py``) on the 192×192 grid, its probability brought back into the crop box
of the frame, lesions (``lesions.py``: regions above one half, with area, confidence and depth).

Depth is monocular: its scale comes from what the depth network learnt on rendered colons (lumen
2-6 cm wide), so it is a relative map, good for ordering and guidance, not a measurement.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ...geometry import ImageGeometry
from ...image import Image
from ...runtime.progress import CancelToken, ProgressCallback, report
from ..base import STATUS_OK, geometry_json, joined
from .lesions import find_lesions
from .presence import NOT_ENDOSCOPY, FrameCheck, check_frame

DEPTH_ID = "endoscopy-depth"
SEGMENTER_ID = "endoscopy-polyp-seg"


@dataclass(frozen=True)
class EndoscopyOptions:
    keep_probability: bool = False  # keep the frame-sized probability map in the result (the module shows it)


@dataclass(frozen=True)
class LesionReport:
    index: int
    area_px: int
    area_fraction: float        # of the field of view
    confidence: float           # mean probability inside the lesion
    peak: float
    box: tuple[int, int, int, int]  # top, left, bottom, right in frame pixels (bottom and right exclusive)
    centroid_rc: tuple[float, float]
    median_depth_cm: Optional[float]

    def to_json(self) -> dict:
        return {"index": self.index, "area_px": self.area_px, "area_percent_of_field": round(100 * self.area_fraction, 3),
                "confidence": round(self.confidence, 4), "peak_probability": round(self.peak, 4),
                "box_top_left_bottom_right": list(self.box),
                "centroid_row_column": [round(v, 1) for v in self.centroid_rc],
                "median_depth_cm": None if self.median_depth_cm is None else round(self.median_depth_cm, 2)}


@dataclass(frozen=True)
class EndoscopyResult:
    source: str
    geometry: ImageGeometry
    status: str
    message: str
    check: FrameCheck
    lesions: tuple[LesionReport, ...] = ()
    mask: Optional[np.ndarray] = field(default=None, repr=False)          # frame-sized bool
    depth_cm: Optional[np.ndarray] = field(default=None, repr=False)      # frame-sized, 0 outside the field
    field_of_view: Optional[np.ndarray] = field(default=None, repr=False)  # frame-sized bool
    probability: Optional[np.ndarray] = field(default=None, repr=False)   # frame-sized, with keep_probability
    frame_index: Optional[int] = None
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"source": self.source, "frame_index": self.frame_index, "status": self.status, "message": self.message,
                "lesion_count": len(self.lesions), "lesions": [lesion.to_json() for lesion in self.lesions],
                "frame_check": self.check.to_json(), "models": [DEPTH_ID, SEGMENTER_ID],
                "depth_note": "monocular depth, relative scale (learnt from rendered colons); not a measurement",
                "geometry": geometry_json(self.geometry), "seconds": round(self.seconds, 4),
                "warnings": list(self.warnings), "intended_use": "research only; not for clinical use"}

    def csv_rows(self) -> list[dict]:
        """One row per lesion; a frame without lesions (or refused) has one row with lesion_count 0."""
        base = {"frame_index": "" if self.frame_index is None else self.frame_index, "status": self.status,
                "lesion_count": len(self.lesions)}
        empty = {"lesion": "", "area_px": "", "area_percent_of_field": "", "confidence": "", "peak_probability": "",
                 "box_top_left_bottom_right": "", "median_depth_cm": ""}
        tail = {"warnings": joined(self.warnings), "message": self.message}
        if not self.lesions:
            return [{**base, **empty, **tail}]
        rows = []
        for lesion in self.lesions:
            data = lesion.to_json()
            rows.append({**base, "lesion": lesion.index, "area_px": lesion.area_px,
                         "area_percent_of_field": data["area_percent_of_field"], "confidence": data["confidence"],
                         "peak_probability": data["peak_probability"],
                         "box_top_left_bottom_right": " ".join(map(str, lesion.box)),
                         "median_depth_cm": "" if data["median_depth_cm"] is None else data["median_depth_cm"], **tail})
        return rows


def frame_rgb(image: Image) -> np.ndarray:
    """The image's frame as H×W×3 uint8 (a grey image is repeated into three equal channels)."""
    plane = image.plane
    if plane.ndim == 2:
        plane = np.repeat(plane[..., None], 3, axis=-1)
    plane = plane[..., :3]
    if plane.dtype != np.uint8:
        top = 1.0 if np.issubdtype(plane.dtype, np.floating) and float(np.nanmax(plane)) <= 1.0 else 255.0
        plane = np.clip(np.nan_to_num(plane.astype(np.float32)) / top * 255, 0, 255).astype(np.uint8)
    return plane


class EndoscopyPipeline:
    name = "endoscopy"

    def __init__(self, store=None, device=None, force_cpu: Optional[bool] = None) -> None:
        from ...runtime.device import select_device
        from ...runtime.torchscript import frozen, load_model

        device = device if device is not None else select_device(force_cpu)
        self.depth_model = load_model(DEPTH_ID, store=store, device=device, download=False)
        self.segmenter = load_model(SEGMENTER_ID, store=store, device=device, download=False)
        self.device = device
        self.depth_net = frozen(self.depth_model.module)
        self.segment_net = frozen(self.segmenter.module)

    def use_segmenter(self, module) -> None:
        """Run another segmenter (a TorchScript module with the same inputs: the ablation without depth)."""
        from ...runtime.torchscript import frozen

        self.segment_net = frozen(module)

    def depth_and_probability(self, prepared) -> tuple[np.ndarray, np.ndarray]:
        """(depth in cm on the 96×96 grid, lesion probability on the 192×192 grid)."""
        import torch

        from ...nets.keypoint_refiner import upsample_bilinear
        from .preprocess import SEG_SIZE

        with torch.no_grad():
            depth = self.depth_net(torch.from_numpy(prepared.depth_input)[None].to(self.device))
            guide = upsample_bilinear(depth, [SEG_SIZE, SEG_SIZE])
            logits = self.segment_net(torch.from_numpy(prepared.seg_input)[None].to(self.device), guide)
        return depth[0, 0].cpu().numpy(), torch.sigmoid(logits)[0, 0].cpu().numpy()

    def analyse(self, rgb: np.ndarray, source: str, geometry: ImageGeometry, options: Optional[EndoscopyOptions] = None,
                frame_index: Optional[int] = None, progress: Optional[ProgressCallback] = None,
                cancel: Optional[CancelToken] = None) -> EndoscopyResult:
        """One H×W×3 uint8 frame."""
        from .preprocess import prepare

        options = options or EndoscopyOptions()
        started = time.perf_counter()
        rgb01 = rgb.astype(np.float32) / 255
        prepared = prepare(rgb01)
        check = check_frame(rgb01, prepared.field)
        if check.reason:
            report(progress, 1.0, "Not an endoscopy frame")
            return EndoscopyResult(source, geometry, NOT_ENDOSCOPY, check.reason, check, frame_index=frame_index,
                                   seconds=time.perf_counter() - started, warnings=(f"{NOT_ENDOSCOPY}: {check.reason}",))
        if cancel is not None:
            cancel.raise_if_cancelled("Endoscopy lesion analysis")
        report(progress, 0.1, "Estimating depth and segmenting")
        depth_grid, probability_grid = self.depth_and_probability(prepared)
        if cancel is not None:
            cancel.raise_if_cancelled("Endoscopy lesion analysis")
        fov = prepared.field
        probability = prepared.frame_map.to_frame(probability_grid) * fov
        depth = prepared.frame_map.to_frame(depth_grid) * fov
        mask = np.zeros(fov.shape, bool)
        lesions = []
        for index, lesion in enumerate(find_lesions(probability, int(fov.sum())), start=1):
            mask[lesion.pixels] = True
            lesions.append(LesionReport(index, lesion.area_px, lesion.area_px / max(int(fov.sum()), 1), lesion.confidence,
                                        lesion.peak, lesion.box, lesion.centroid,
                                        float(np.median(depth[lesion.pixels]))))
        report(progress, 1.0, "Done")
        message = f"{len(lesions)} lesion(s) found" if lesions else "no lesion found"
        return EndoscopyResult(source, geometry, STATUS_OK, message, check, tuple(lesions), mask, depth.astype(np.float32),
                               fov, probability.astype(np.float32) if options.keep_probability else None, frame_index,
                               time.perf_counter() - started)

    def run(self, image: Image, options: Optional[EndoscopyOptions] = None, *,
            progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> EndoscopyResult:
        if cancel is not None:
            cancel.raise_if_cancelled("Endoscopy lesion analysis")
        return self.analyse(frame_rgb(image), image.origin.name, image.geometry, options, progress=progress, cancel=cancel)
