"""Tiny bone segmentation of CT: the worked 3-D example of the pipeline contract.

``Image`` (CT in HU) → sliding-window inference (the model runtime: registry,
checksum, device, progress, cancel) → a bone labelmap on the image's grid →
(bridge) a segmentation node. The model is the shipped ``phantom-bone-seg-tiny``,
trained on generated phantoms: it checks that the runtime works end to end and
shows a new pipeline the shape to copy; it is not meant for patients' CT.

:func:`run_runtime_check` runs it on a phantom with known truth (``orthoai models
check``, the OrthoAI module's "Check model runtime" and its self-test).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...geometry import ImageGeometry
from ...image import Image, ImageOrigin
from ...runtime.progress import CancelToken, ProgressCallback, report
from ..base import STATUS_OK, geometry_json, joined

MODEL_ID = "phantom-bone-seg-tiny"
CHECK_PHANTOM_SEED = 4242  # outside the training (0-23) and held-out (1000-1015) seeds
LABELS = {1: "bone"}
NOT_CT = "not_ct"
# A CT in Hounsfield units holds fat or air (below -50; MR, ultrasound and photographs have no
# negative values) and bone (above +200), and nothing below the scanners' floor (-3024); an
# image without all three is not read as CT, and nothing is measured on it.
FAT_OR_AIR_BELOW_HU, BONE_ABOVE_HU, HU_FLOOR = -50.0, 200.0, -3024.0
CSV_COLUMNS = ("input", "source", "status", "bone_volume_ml", "shape_kji", "warnings")


@dataclass(frozen=True)
class BoneSegmentationResult:
    source: str
    geometry: ImageGeometry  # the labelmap's grid (the input's)
    labelmap: Optional[np.ndarray]  # uint8 KJI (1 = bone); None when the image was refused
    status: str
    bone_volume_ml: Optional[float]
    device: str
    seconds: float
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"source": self.source, "status": self.status, "model": MODEL_ID, "labels": LABELS,
                "bone_volume_ml": self.bone_volume_ml, "geometry": geometry_json(self.geometry),
                "shape_kji": None if self.labelmap is None else list(self.labelmap.shape),
                "device": self.device, "seconds": round(self.seconds, 3), "warnings": list(self.warnings)}

    def csv_rows(self) -> list[dict]:
        return [{"source": self.source, "status": self.status, "bone_volume_ml": self.bone_volume_ml,
                 "shape_kji": "" if self.labelmap is None else "x".join(map(str, self.labelmap.shape)),
                 "warnings": joined(self.warnings)}]


def looks_like_ct(array: np.ndarray) -> Optional[str]:
    """None when the values span air and bone in HU; else why the image is not read as CT."""
    low, high = float(np.min(array)), float(np.max(array))
    if low > FAT_OR_AIR_BELOW_HU or high < BONE_ABOVE_HU or low < HU_FLOOR:
        return (f"values span {low:.0f} to {high:.0f}: a CT in Hounsfield units holds fat or air (below "
                f"{FAT_OR_AIR_BELOW_HU:.0f}) and bone (above {BONE_ABOVE_HU:.0f}), nothing below {HU_FLOOR:.0f}; "
                "nothing was segmented.")
    return None


class BonePhantomPipeline:
    name = "bone-phantom"

    def __init__(self, store=None, device=None, force_cpu: Optional[bool] = None) -> None:
        from ...runtime.device import select_device
        from ...runtime.torchscript import load_model

        self.model = load_model(MODEL_ID, store=store, device=device if device is not None else select_device(force_cpu),
                                download=False)

    def run(self, image: Image, options=None, *, progress: Optional[ProgressCallback] = None,
            cancel: Optional[CancelToken] = None) -> BoneSegmentationResult:
        from ...runtime.inference import sliding_window_predict

        started = time.perf_counter()
        report(progress, 0.0, "Checking the image")
        refusal = "a 2-D image: this pipeline segments CT volumes." if image.is_2d else looks_like_ct(image.array)
        if refusal:
            report(progress, 1.0, "Not a CT")
            return BoneSegmentationResult(image.origin.name, image.geometry, None, NOT_CT, None, str(self.model.device),
                                          time.perf_counter() - started, (f"Not read as CT: {refusal}",))
        entry = self.model.entry
        logits = sliding_window_predict(
            self.model.module, image.array[np.newaxis].astype(np.float32), entry.input["patch_size"],
            overlap=float(entry.input.get("overlap", 0.25)), device=self.model.device,
            progress=lambda f, m: report(progress, 0.05 + 0.95 * f, m), cancel=cancel)
        labelmap = (logits.argmax(0) == 1).astype(np.uint8)
        voxel_ml = float(np.prod(image.true_spacing_ijk)) / 1000.0
        return BoneSegmentationResult(image.origin.name, image.geometry, labelmap, STATUS_OK,
                                      round(float(labelmap.sum()) * voxel_ml, 3), str(self.model.device),
                                      time.perf_counter() - started)


@dataclass(frozen=True)
class RuntimeCheck:
    image: Image
    result: BoneSegmentationResult
    dice: float

    def summary(self) -> dict:
        return {"model": MODEL_ID, "device": self.result.device, "dice_bone": round(self.dice, 4),
                "seconds": round(self.result.seconds, 3), "shape_kji": list(self.image.array.shape)}


def dice(prediction: np.ndarray, truth: np.ndarray) -> float:
    total = int(prediction.sum()) + int(truth.sum())
    return 1.0 if total == 0 else 2.0 * float(np.logical_and(prediction, truth).sum()) / total


def phantom_image(seed: int = CHECK_PHANTOM_SEED) -> tuple[Image, np.ndarray]:
    """A generated CT phantom as an ``Image``, and its true bone mask."""
    from ...phantoms.bone_ct import make_bone_phantom

    phantom = make_bone_phantom(seed)
    origin = ImageOrigin(f"bone phantom {seed}", "CT", "phantom", True)
    return Image(phantom.image_hu.astype(np.float32), phantom.geometry, origin), phantom.bone_label == 1


def run_runtime_check(store=None, force_cpu: Optional[bool] = None, progress: Optional[ProgressCallback] = None,
                      cancel: Optional[CancelToken] = None) -> RuntimeCheck:
    report(progress, 0.0, "Loading model")
    pipeline = BonePhantomPipeline(store, force_cpu=force_cpu)
    image, truth = phantom_image()
    result = pipeline.run(image, progress=progress, cancel=cancel)
    return RuntimeCheck(image, result, dice(result.labelmap, truth))
