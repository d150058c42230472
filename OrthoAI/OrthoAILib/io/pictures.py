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


# A perceptually ordered colour scale (dark blue, cyan, green, yellow, orange, dark red): low to high.
SCALE_COLOURS = np.array([[48, 18, 59], [70, 134, 251], [27, 229, 181], [164, 252, 60], [251, 185, 56], [227, 68, 10],
                          [122, 4, 3]], np.float32)


def colour_scale(fraction: np.ndarray) -> np.ndarray:
    """RGB (float 0-255, the input's shape × 3) for values in 0-1 (clipped) on the colour scale."""
    t = np.clip(np.asarray(fraction, dtype=np.float32), 0, 1) * (len(SCALE_COLOURS) - 1)
    index = np.minimum(t.astype(int), len(SCALE_COLOURS) - 2)
    frac = (t - index)[..., None]
    return SCALE_COLOURS[index] * (1 - frac) + SCALE_COLOURS[index + 1] * frac
