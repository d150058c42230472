"""Operations on binary masks that several pipelines share."""

from __future__ import annotations

from typing import Optional

import numpy as np


def largest_component(mask: np.ndarray, structure: Optional[np.ndarray] = None) -> np.ndarray:
    """The largest connected piece of ``mask`` (the mask itself when it has one piece or none).
    ``structure``: the connectivity, as ``scipy.ndimage.label`` takes it (default: faces only)."""
    from scipy import ndimage

    labels, count = ndimage.label(mask, structure=structure)
    if count <= 1:
        return mask
    return labels == 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
