"""Encoding pictures (masks, fused heatmaps) as PNG bytes, for files and HTTP answers alike."""

from __future__ import annotations

import io

import numpy as np


def png_bytes(pixels: np.ndarray) -> bytes:
    """``uint8`` grey (rows × columns) or RGB (rows × columns × 3) as PNG (fast compression)."""
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
