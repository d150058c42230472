"""From an endoscopy frame to the networks' grids and back.

A frame's black border (and the text the processor prints into it) is cut away: the field of view
is the largest connected region of lit pixels, filled, and its bounding box is the crop. The crop
is resized to the segmentation grid (192×192) and the depth grid (96×96); ``FrameMap`` keeps the
crop box, so a mask on the grid goes back to the frame's size exactly where it came from, and
pixels outside the field of view are never lesion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEG_SIZE = 192
DEPTH_SIZE = 96
LIT = 0.08  # a pixel brighter than this (0-1 luminance, smoothed) belongs to the field of view
# ImageNet-free, per-dataset statistics would tie the model to one processor: normalise each frame
MEAN_GREY = 0.5


@dataclass(frozen=True)
class FrameMap:
    """Where the network grid sits in the frame: the crop box (top, left, bottom, right), exclusive end."""

    frame_shape: tuple[int, int]
    box: tuple[int, int, int, int]

    def to_frame(self, grid: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """A grid image (H×W float) resized bilinearly into the crop box of a frame-sized array."""
        top, left, bottom, right = self.box
        out = np.full(self.frame_shape, fill, dtype=np.float32)
        out[top:bottom, left:right] = bilinear(grid[..., None], (bottom - top, right - left))[..., 0]
        return out


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def field_of_view(rgb: np.ndarray) -> np.ndarray:
    """The endoscope's field of view: the largest lit region, holes filled (text in the border is not lit region)."""
    from scipy import ndimage

    lit = ndimage.uniform_filter(luminance(rgb), 5) > LIT
    labels, count = ndimage.label(lit)
    if count == 0:
        return np.zeros(lit.shape, bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    filled = ndimage.binary_fill_holes(labels == sizes.argmax())
    # the 5×5 smoothing grew the region by 2 pixels into the border: take them back (not at the frame's edge)
    return ndimage.binary_erosion(filled, iterations=2, border_value=1)


def crop_box(field: np.ndarray) -> tuple[int, int, int, int]:
    rows, columns = np.flatnonzero(field.any(axis=1)), np.flatnonzero(field.any(axis=0))
    if rows.size == 0:
        return 0, 0, field.shape[0], field.shape[1]
    return int(rows[0]), int(columns[0]), int(rows[-1]) + 1, int(columns[-1]) + 1


def normalise_rgb(rgb: np.ndarray) -> np.ndarray:
    """0-1 RGB → network units: centred on mid-grey, unit-ish spread (no per-dataset statistics)."""
    return ((rgb - MEAN_GREY) / 0.25).astype(np.float32)


def bilinear(pixels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """H×W×C float → shape×C, bilinear with pixel centres aligned (as scikit-image's resize, order 1);
    a reduction by more than 2 averages boxes first, so that nothing aliases."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32)).permute(2, 0, 1)[None]
    factor = min(x.shape[2] // shape[0], x.shape[3] // shape[1])
    if factor > 2:  # leaves a reduction under 2 for the bilinear step
        x = torch.nn.functional.avg_pool2d(x, factor - 1)
    x = torch._C._nn.upsample_bilinear2d(x, list(shape), False, None)
    return x[0].permute(1, 2, 0).numpy()


def resize_rgb(rgb: np.ndarray, size: int) -> np.ndarray:
    return bilinear(rgb, (size, size))


@dataclass(frozen=True)
class Prepared:
    seg_input: np.ndarray    # 3×SEG_SIZE×SEG_SIZE, normalised
    depth_input: np.ndarray  # 3×DEPTH_SIZE×DEPTH_SIZE, normalised
    field: np.ndarray        # frame-sized bool
    frame_map: FrameMap


def prepare(rgb: np.ndarray) -> Prepared:
    """A 0-1 RGB frame (H×W×3 float) → both networks' inputs and the map back to the frame."""
    field = field_of_view(rgb)
    box = crop_box(field)
    top, left, bottom, right = box
    crop = rgb[top:bottom, left:right] * field[top:bottom, left:right, None]
    seg = resize_rgb(crop, SEG_SIZE)
    depth = resize_rgb(seg, DEPTH_SIZE)
    return Prepared(normalise_rgb(seg).transpose(2, 0, 1).copy(), normalise_rgb(depth).transpose(2, 0, 1).copy(),
                    field, FrameMap(rgb.shape[:2], box))
