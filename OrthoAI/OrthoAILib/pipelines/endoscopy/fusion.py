"""Pictures of a result: the lesion mask fused onto the frame, and depth as 16 bits and in colour."""

from __future__ import annotations

import numpy as np

from ...io.pictures import colour_scale

LESION_RGB = np.array([40, 255, 90], np.float32)   # green fill and outline: visible on red mucosa
ALPHA = 0.35
DEPTH_PNG_UNITS_PER_MM = 100  # depth.png: value = depth in hundredths of a millimetre


def outline(mask: np.ndarray, width: int = 2) -> np.ndarray:
    from scipy import ndimage

    return mask & ~ndimage.binary_erosion(mask, iterations=width, border_value=0)


def fuse(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``rgb`` H×W×3 uint8 and a frame-sized lesion mask → the fused picture (uint8)."""
    out = rgb.astype(np.float32)
    out[mask] = (1 - ALPHA) * out[mask] + ALPHA * LESION_RGB
    width = max(1, round(max(mask.shape) / 250))
    out[outline(mask, width)] = LESION_RGB
    return out.astype(np.uint8)


def video_picture(rgb: np.ndarray, mask) -> np.ndarray:
    """A video frame as the annotated video and the module's sequence show it: lesions fused, or the
    frame darkened when it was refused (``mask`` None: nothing was read there)."""
    return fuse(rgb, mask) if mask is not None else (rgb * 0.4).astype(np.uint8)


def depth_png_values(depth_cm: np.ndarray) -> np.ndarray:
    """Depth (cm) as uint16 hundredths of a millimetre (up to 65 cm); 0 outside the field of view."""
    return np.clip(np.round(np.nan_to_num(depth_cm) * 10 * DEPTH_PNG_UNITS_PER_MM), 0, 65535).astype(np.uint16)


def depth_colour(depth_cm: np.ndarray, field: np.ndarray) -> np.ndarray:
    """Depth in colour, scaled between the 2nd and 98th percentile inside the field; black outside it."""
    values = depth_cm[field] if field.any() else depth_cm.ravel()
    low, high = np.percentile(values, [2, 98]) if values.size else (0.0, 1.0)
    rgb = colour_scale((depth_cm - low) / max(high - low, 1e-6))  # near dark blue, far dark red
    return (rgb * field[..., None]).astype(np.uint8)
