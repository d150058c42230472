"""From an ultrasound still to the segmentation network's input, and back.

The still is box-reduced by a whole factor (antialiasing that costs almost nothing), then
resampled by one affine map into a fixed network grid with its aspect kept (letterboxed).
The map is kept, so the network's output goes back to the still's pixels exactly; training
composes the same map with its augmentation, so the network sees what the pipeline feeds it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

NET_SHAPE = (160, 240)  # rows, columns of the segmentation network's input


@dataclass(frozen=True)
class Letterbox:
    """``network = image · scale + offset`` for (row, column) pixel positions (pixel centres)."""

    scale: float
    offset_rc: tuple[float, float]
    image_shape: tuple[int, int]

    @classmethod
    def fit(cls, image_shape: tuple[int, int], net_shape: tuple[int, int] = NET_SHAPE) -> "Letterbox":
        scale = min(net_shape[0] / image_shape[0], net_shape[1] / image_shape[1])
        offset = tuple((n - 1) / 2.0 - (s - 1) / 2.0 * scale for n, s in zip(net_shape, image_shape))
        return cls(scale, offset, tuple(image_shape))

    def to_image(self, points_rc: np.ndarray) -> np.ndarray:
        return (np.asarray(points_rc, float) - np.asarray(self.offset_rc)) / self.scale

    def to_network(self, points_rc: np.ndarray) -> np.ndarray:
        return np.asarray(points_rc, float) * self.scale + np.asarray(self.offset_rc)


def box_reduce(plane: np.ndarray, factor: int) -> np.ndarray:
    """Mean of ``factor``×``factor`` blocks (edges trimmed): an antialiasing step before resampling."""
    if factor <= 1:
        return plane.astype(np.float32, copy=False)
    rows, cols = (plane.shape[0] // factor) * factor, (plane.shape[1] // factor) * factor
    blocks = plane[:rows, :cols].astype(np.float32).reshape(rows // factor, factor, cols // factor, factor)
    return blocks.mean(axis=(1, 3))


def resample(plane: np.ndarray, network_to_image: np.ndarray, net_shape: tuple[int, int] = NET_SHAPE,
             order: int = 1) -> np.ndarray:
    """Sample ``plane`` on the network grid; ``network_to_image`` is a 3×3 homogeneous (row, col) map.

    The plane is box-reduced first by the largest whole factor the map's scale allows, so the
    interpolation never skips more than a pixel of the still."""
    linear = network_to_image[:2, :2]
    step = float(np.sqrt(abs(np.linalg.det(linear))))  # image pixels per network pixel
    factor = max(1, int(np.floor(step)))
    reduced = box_reduce(plane, factor)
    # A block-mean pixel i covers image pixels factor·i .. factor·i + factor - 1.
    to_reduced = np.array([[1.0 / factor, 0, -(factor - 1) / (2.0 * factor)],
                           [0, 1.0 / factor, -(factor - 1) / (2.0 * factor)], [0, 0, 1]])
    matrix = to_reduced @ network_to_image
    return ndimage.affine_transform(reduced, matrix[:2, :2], offset=matrix[:2, 2], output_shape=net_shape,
                                    order=order, mode="constant", cval=0.0).astype(np.float32)


def letterbox_matrix(box: Letterbox) -> np.ndarray:
    """The 3×3 map from network (row, col) to image (row, col) of a letterbox."""
    inverse = 1.0 / box.scale
    return np.array([[inverse, 0, -box.offset_rc[0] * inverse],
                     [0, inverse, -box.offset_rc[1] * inverse], [0, 0, 1.0]])


def normalise(network_image: np.ndarray) -> np.ndarray:
    """Zero mean, unit spread per image (ultrasound gain differs between scanners and sessions)."""
    values = network_image.astype(np.float32)
    spread = float(values.std())
    return (values - float(values.mean())) / (spread if spread > 1e-6 else 1.0)


def network_input(plane: np.ndarray, box: Letterbox | None = None) -> tuple[np.ndarray, Letterbox]:
    """The still as the network's normalised input, with the letterbox that maps it back."""
    box = box or Letterbox.fit(plane.shape)
    return normalise(resample(plane, letterbox_matrix(box))), box
