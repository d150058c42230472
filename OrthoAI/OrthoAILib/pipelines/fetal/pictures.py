"""The pictures a fetal result is shown and stored as: the head mask and the fused heatmap."""

from __future__ import annotations

from typing import Optional

import numpy as np

from .heatmap import fuse


def mask_picture(result) -> Optional[np.ndarray]:
    """The head mask as ``uint8`` 0/255 on the still's grid; None when no head was measured."""
    return None if result.mask is None else result.mask.astype(np.uint8) * 255


def heatmap_picture(result, plane: np.ndarray) -> Optional[np.ndarray]:
    """The Grad-CAM heatmap fused onto the still (``uint8`` RGB); None when no head was measured."""
    return None if result.heatmap is None else fuse(plane, result.heatmap)
