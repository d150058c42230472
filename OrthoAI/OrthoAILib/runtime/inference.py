"""Sliding-window inference with progress and cancellation.

MONAI's ``sliding_window_inference`` bounds memory by running the network on
overlapping patches and blending them with Gaussian weights. It has no
progress callback or cancel, so the network is wrapped: every batch of
patches reports progress and checks the cancel token first.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

from .progress import CancelToken, ProgressCallback, report


def _scan_interval(image_size: Sequence[int], roi_size: Sequence[int], overlap: float) -> list[int]:
    # Same rule as MONAI's sliding_window_inference.
    intervals = []
    for image, roi in zip(image_size, roi_size):
        if roi == image:
            intervals.append(int(roi))
        else:
            interval = int(roi * (1 - overlap))
            intervals.append(interval if interval > 0 else 1)
    return intervals


def count_windows(image_size: Sequence[int], roi_size: Sequence[int], overlap: float) -> int:
    """Number of patches MONAI visits for an image (spatial sizes, after padding to the ROI)."""
    padded = [max(i, r) for i, r in zip(image_size, roi_size)]
    intervals = _scan_interval(padded, roi_size, overlap)
    counts = [math.ceil((size - roi) / step) + 1 if size > roi else 1
              for size, roi, step in zip(padded, roi_size, intervals)]
    return int(np.prod(counts))


def sliding_window_predict(module, image: np.ndarray, roi_size: Sequence[int], *,
                           overlap: float = 0.25, sw_batch_size: int = 2, device=None,
                           progress: Optional[ProgressCallback] = None,
                           cancel: Optional[CancelToken] = None) -> np.ndarray:
    """Run ``module`` over ``image`` (channels first: C×spatial) and return its output, C'×spatial.

    The input array is never modified.
    """
    import torch
    from monai.inferers import sliding_window_inference

    if image.ndim != len(roi_size) + 1:
        raise ValueError(f"image must be channels-first with {len(roi_size)} spatial dims, got shape {image.shape}")
    device = device or torch.device("cpu")
    spatial = image.shape[1:]
    total_batches = math.ceil(count_windows(spatial, roi_size, overlap) / sw_batch_size)
    done = 0

    def predictor(patches: torch.Tensor) -> torch.Tensor:
        nonlocal done
        if cancel is not None:
            cancel.raise_if_cancelled("Inference")
        output = module(patches)
        done += 1
        report(progress, done / total_batches, f"Inference: patch batch {done} of {total_batches}")
        return output

    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None]
    with torch.inference_mode():
        output = sliding_window_inference(
            tensor, roi_size=tuple(roi_size), sw_batch_size=sw_batch_size, predictor=predictor,
            overlap=overlap, mode="gaussian", sw_device=device, device=torch.device("cpu"),
        )
    return output[0].numpy()
