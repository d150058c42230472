"""CT-like volumes with bones, vessels and noise, and their bone labels.

Bones are ellipsoids with a dense cortex (about 1200 HU) around marrow
(about 400 HU); contrast-filled vessels (250–350 HU) and soft tissue (about
40 HU) surround them. Marrow and vessels overlap in intensity, so a plain
threshold cannot label the marrow without also taking vessels: a model has to
use the shape around a voxel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry import ImageGeometry


@dataclass(frozen=True)
class BonePhantom:
    image_hu: np.ndarray  # int16, KJI
    bone_label: np.ndarray  # uint8 {0, 1}, KJI
    geometry: ImageGeometry


def make_bone_phantom(seed: int, shape: tuple[int, int, int] = (40, 48, 48),
                      spacing: tuple[float, float, float] = (1.0, 1.0, 1.5)) -> BonePhantom:
    """One phantom; ``shape`` is KJI, ``spacing`` is IJK (mm)."""
    rng = np.random.default_rng(seed)
    k, j, i = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in shape), indexing="ij")
    image = np.full(shape, 40.0, dtype=np.float32)
    image += rng.normal(0, 8, size=(1, 1, 1)).astype(np.float32)
    label = np.zeros(shape, dtype=np.uint8)

    for _ in range(int(rng.integers(2, 5))):
        centre = rng.uniform(0.2, 0.8, size=3) * np.array(shape)
        radii = rng.uniform(3.5, 9.0, size=3)
        distance = np.sqrt(((k - centre[0]) / radii[0]) ** 2 + ((j - centre[1]) / radii[1]) ** 2
                           + ((i - centre[2]) / radii[2]) ** 2)
        bone = distance <= 1.0
        cortex = bone & (distance > 1.0 - 1.6 / radii.min())
        image[bone] = rng.uniform(330, 480)
        image[cortex] = rng.uniform(1000, 1500)
        label[bone] = 1

    for _ in range(int(rng.integers(1, 4))):  # vessels: tubes along a random axis, outside bone
        axis = int(rng.integers(0, 3))
        coords = [k, j, i]
        others = [c for a, c in enumerate(coords) if a != axis]
        centre = rng.uniform(0.15, 0.85, size=2) * np.array([s for a, s in enumerate(shape) if a != axis])
        radius = rng.uniform(1.5, 3.0)
        tube = ((others[0] - centre[0]) ** 2 + (others[1] - centre[1]) ** 2 <= radius ** 2) & (label == 0)
        image[tube] = rng.uniform(250, 350)

    image += rng.normal(0, 25, size=shape).astype(np.float32)
    geometry = ImageGeometry(spacing=spacing, origin=tuple(rng.uniform(-50, 50, size=3)))
    return BonePhantom(np.round(image).astype(np.int16), label, geometry)
