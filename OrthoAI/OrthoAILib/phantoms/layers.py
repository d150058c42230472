"""The three layers a film is drawn in, and the materials they hold.

* ``soft`` — soft tissue, fat and gas, smooth, on a grid of about 1.2 mm (cheap);
* ``bone`` — bone, at the film's spacing, given a trabecular texture when combined;
* ``dense`` — implants, cement, lead, at the film's spacing, untextured.

Values are line integrals of attenuation: a material's ``MU`` (per mm of path,
relative to the soft tissue it displaces, at a typical beam) times the path in
film millimetres times ``mu_scale`` (1 / magnification: film mm are magnified,
the beam's path is not).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from .raster import Canvas
from .textures import noise_field, ridged, upsample

# attenuation per mm of path, in excess of the soft tissue a structure displaces
MU = {
    "soft": 0.020, "fat": -0.003, "gas": -0.020,
    "trabecular": 0.012, "cortical": 0.040,
    "polyethylene": -0.001, "cement": 0.060, "ceramic": 0.25,
    "titanium": 0.10, "steel": 0.80, "cobalt_chrome": 1.0, "lead": 5.0,
}


class UnionCanvas(Canvas):
    """A canvas where solids combine as one bone: positive shapes by maximum (their union, no double
    brightness where pieces of the same bone overlap), negative ones (holes, lucent lines) by adding."""

    def __init__(self, like: Canvas) -> None:
        self.target = like
        self.image = np.zeros(like.image.shape, dtype=np.float32)  # pages are touched only where drawn
        self.to_pixel, self.to_frame = like.to_pixel.copy(), like.to_frame.copy()
        self.touched = None  # (r0, r1, c0, c1) drawn so far

    def block_box(self, bounds_xy):
        box = super().block_box(bounds_xy)
        if box is not None:
            t = self.touched
            self.touched = box if t is None else (min(t[0], box[0]), max(t[1], box[1]), min(t[2], box[2]), max(t[3], box[3]))
        return box

    def paint_field(self, field, bounds_xy, mode: str = "add") -> None:
        if mode != "add":
            return super().paint_field(field, bounds_xy, mode)
        found = self.block(bounds_xy)
        if found is None:
            return
        block, x, y = found
        values = field(x, y)
        if values.min() >= 0:
            np.maximum(block, values, out=block)
        else:
            block[:] = np.where(values >= 0, np.maximum(block, values), block + values)

    def add_to(self, target: Canvas) -> None:
        if self.touched is not None:
            r0, r1, c0, c1 = self.touched
            target.image[r0:r1, c0:c1] += np.maximum(self.image[r0:r1, c0:c1], 0.0)


class FilmLayers:
    def __init__(self, canvas: Canvas, spacing: float, magnification: float) -> None:
        self.bone = canvas
        self.dense = Canvas(canvas.image.shape, 1.0)
        self.dense.to_pixel, self.dense.to_frame = canvas.to_pixel.copy(), canvas.to_frame.copy()
        self.soft_factor = max(1, int(round(1.2 / spacing)))
        self.soft = canvas.coarse(self.soft_factor)
        self.spacing = spacing
        self.mu_scale = 1.0 / magnification

    @contextmanager
    def one_bone(self):
        """Draw one bone from several solids: inside the block, ``self.bone`` is a :class:`UnionCanvas`."""
        target = self.bone
        self.bone = UnionCanvas(target)
        try:
            yield self.bone
        finally:
            union, self.bone = self.bone, target
            union.add_to(target)

    def mu(self, material: str, factor: float = 1.0) -> float:
        return MU[material] * self.mu_scale * factor

    def attenuation(self, rng: np.random.Generator, texture: float) -> np.ndarray:
        """Soft + textured bone + dense, at the film's pixels.

        ``texture``: strength of the trabecular pattern (0 = none). The pattern is
        added in proportion to the bone's value up to a cap, so thin trabecular
        bone is modulated strongly and dense cortex only slightly.
        """
        texture_rng = np.random.default_rng(int(rng.integers(2 ** 63)))
        shape = self.bone.image.shape
        attenuation = upsample(self.soft.image, shape, self.soft_factor)
        bone = np.maximum(self.bone.image, 0.0, out=self.bone.image)  # the layer is not drawn into again
        if texture > 0:
            # one ridged field, its cells taller than wide: a network of plates and struts running
            # mostly along the limb and the lines of load, as trabeculae do
            pattern = ridged(noise_field(texture_rng, shape, self.spacing, (2.4, 1.3)))
            pattern -= np.float32(0.3)
            cap = np.float32(0.35 * self.mu_scale)
            attenuation += bone
            pattern *= np.minimum(bone, cap)
            pattern *= np.float32(0.36 * texture)
            attenuation += pattern
        else:
            attenuation += bone
        attenuation += self.dense.image
        return attenuation
