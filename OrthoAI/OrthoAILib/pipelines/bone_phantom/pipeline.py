"""End-to-end check of the model runtime on a generated phantom.

Locates the shipped ``phantom-bone-seg-tiny`` model (checksum verified), loads
it as TorchScript on the selected device, runs sliding-window inference with
progress and cancel, and scores the bone label against the phantom's truth.
Used by ``orthoai models check``, the OrthoAI module's "Check model runtime"
button and its self-test.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...geometry import ImageGeometry
from ...runtime.progress import CancelToken, ProgressCallback, report
from ...runtime.store import ModelStore

CHECK_MODEL_ID = "phantom-bone-seg-tiny"
CHECK_PHANTOM_SEED = 4242  # outside the training (0-23) and held-out (1000-1015) seeds


@dataclass(frozen=True)
class RuntimeCheck:
    model_id: str
    device: str
    dice: float
    seconds: float
    image_hu: np.ndarray  # KJI
    bone_prediction: np.ndarray  # uint8 KJI
    geometry: ImageGeometry

    def summary(self) -> dict:
        return {"model": self.model_id, "device": self.device, "dice_bone": round(self.dice, 4),
                "seconds": round(self.seconds, 3), "shape_kji": list(self.image_hu.shape)}


def dice(prediction: np.ndarray, truth: np.ndarray) -> float:
    total = int(prediction.sum()) + int(truth.sum())
    return 1.0 if total == 0 else 2.0 * float(np.logical_and(prediction, truth).sum()) / total


def run_runtime_check(store: Optional[ModelStore] = None, force_cpu: Optional[bool] = None,
                      progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> RuntimeCheck:
    from ...phantoms.bone_ct import make_bone_phantom
    from ...runtime.device import select_device
    from ...runtime.inference import sliding_window_predict
    from ...runtime.torchscript import load_model

    started = time.perf_counter()
    report(progress, 0.0, "Loading model")
    model = load_model(CHECK_MODEL_ID, store=store, device=select_device(force_cpu), download=False)
    phantom = make_bone_phantom(CHECK_PHANTOM_SEED)
    logits = sliding_window_predict(
        model.module, phantom.image_hu[np.newaxis].astype(np.float32), model.entry.input["patch_size"],
        overlap=float(model.entry.input.get("overlap", 0.25)), device=model.device,
        progress=lambda f, m: report(progress, 0.05 + 0.95 * f, m), cancel=cancel,
    )
    prediction = (logits.argmax(0) == 1).astype(np.uint8)
    return RuntimeCheck(CHECK_MODEL_ID, str(model.device), dice(prediction, phantom.bone_label == 1),
                        time.perf_counter() - started, phantom.image_hu, prediction, phantom.geometry)
