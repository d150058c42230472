"""What lies around the bones: the body's outline, fat and muscle, bowel gas, skin folds, things on the skin.

The body is an elliptic cylinder (trunk) that splits into two thighs below the
perineum; its path length falls to zero at the skin, so the edges of a film
are dark where the beam misses the patient. Subcutaneous fat is a little less
dense than muscle, which draws the fat planes. Gas in the bowel is a negative
attenuation (it displaces tissue). Metal on the skin (snaps, buttons, a lead
gonad shield on a child) goes in the dense layer: bright like an implant, but
no cup.
"""

from __future__ import annotations

import math

import numpy as np

from .layers import FilmLayers
from .solids import ellipsoid


def draw_body(layers: FilmLayers, rng: np.random.Generator, size: float, k: float, perineum_y: float,
              extent: tuple[float, float, float, float]) -> dict:
    """Trunk and thighs; ``extent`` (xmin, xmax, ymin, ymax) frame mm to cover. Returns the body's proportions."""
    half_width = rng.uniform(150, 215) * size * k
    depth = rng.uniform(170, 280) * size * k
    fat = rng.uniform(8, 45) * size * k
    thigh_x, thigh_half = half_width * rng.uniform(0.4, 0.48), half_width * rng.uniform(0.55, 0.65)
    soft, fat_mu = layers.mu("soft"), layers.mu("fat")

    def profile(distance, half, thickness):
        return np.sqrt(np.maximum(1.0 - (distance / half) ** 2, 0.0)) * thickness

    def field(x, y):
        trunk = profile(x, half_width, depth)
        trunk_muscle = profile(x, half_width - fat, depth - 2 * fat)
        spread = np.abs(x) - thigh_x - np.minimum(y - perineum_y, 0.0) * 0.08
        thigh = profile(spread, thigh_half, depth * 0.75)
        thigh_muscle = profile(spread, thigh_half - fat, depth * 0.75 - 2 * fat)
        weight = np.clip((y - perineum_y) / (40 * k) + 0.5, 0.0, 1.0)
        total = weight * trunk + (1 - weight) * thigh
        muscle = weight * trunk_muscle + (1 - weight) * thigh_muscle
        return soft * total + fat_mu * (total - muscle)

    layers.soft.paint_field(field, extent)
    return {"body_half_width_mm": half_width / k, "body_depth_mm": depth / k, "fat_mm": fat / k}


def draw_bowel_gas(layers: FilmLayers, rng: np.random.Generator, size: float, k: float, region) -> int:
    """Gas in ``region`` (xmin, xmax, ymin, ymax): a few colon loops (chains of haustra) and mottled stool
    (clusters of small bubbles); gas displaces tissue, so it is a negative attenuation."""
    xmin, xmax, ymin, ymax = region
    gas = layers.mu("gas")
    segments = int(rng.choice([0, 1, 2, 3, 4], p=[0.2, 0.3, 0.25, 0.15, 0.1]))
    for _ in range(segments):
        start = np.array([rng.uniform(xmin, xmax), rng.uniform(ymin, ymax)])
        heading = rng.uniform(0, 2 * math.pi)
        calibre = rng.uniform(8, 20) * size * k
        for _ in range(int(rng.integers(2, 6))):  # haustra along the loop, each a little different
            width = calibre * rng.uniform(0.7, 1.1)
            ellipsoid(layers.soft, start, (width * rng.uniform(0.45, 0.7), width), width * 0.5, gas, rotation=heading)
            heading += rng.normal(0, 0.45)
            start = start + width * 1.2 * np.array([math.cos(heading), math.sin(heading)])
    for _ in range(int(rng.integers(0, 3))):  # stool: a cluster of small bubbles
        centre = np.array([rng.uniform(xmin, xmax), rng.uniform(ymin, ymax)])
        spread = rng.uniform(10, 30) * size * k
        for _ in range(int(rng.integers(8, 30))):
            radius = rng.uniform(1.5, 4.5) * size * k
            ellipsoid(layers.soft, centre + rng.normal(0, spread / 2, size=2), (radius, radius), radius, gas * 1.5)
    return segments


def draw_skin_folds(layers: FilmLayers, rng: np.random.Generator, size: float, k: float, extent) -> int:
    """An abdominal pannus edge across the lower belly and/or folds at the flanks: steps in thickness along a curve."""
    folds = int(rng.choice([0, 1, 2], p=[0.5, 0.35, 0.15]))
    soft = layers.mu("soft")
    xmin, xmax, ymin, ymax = extent
    for _ in range(folds):
        extra = rng.uniform(8, 30) * size * k
        ramp = rng.uniform(1.5, 4) * k
        if rng.random() < 0.5:  # pannus: thicker above a smile-shaped edge
            y0, curvature = rng.uniform(-60, 20) * k, rng.uniform(0.5, 2.0) / (150 * k)
            field = lambda x, y, y0=y0, c=curvature, e=extra, r=ramp: np.clip((y - y0 - c * x * x) / r, 0, 1) * e * soft  # noqa: E731
        else:  # a flank fold: thicker lateral of a gently curved vertical edge
            sign, x0, bow = rng.choice([-1.0, 1.0]), rng.uniform(110, 170) * k, rng.uniform(-0.002, 0.002) / k
            field = lambda x, y, s=sign, x0=x0, b=bow, e=extra, r=ramp: np.clip((s * x - x0 - b * y * y) / r, 0, 1) * e * soft  # noqa: E731
        layers.soft.paint_field(field, extent)
    return folds


def draw_skin_metal(layers: FilmLayers, rng: np.random.Generator, k: float, region, probability: float) -> int:
    """Snaps, buttons, a zip or a piercing in ``region``: small, very dense, and not implants."""
    if rng.random() >= probability:
        return 0
    count = int(rng.integers(1, 4))
    xmin, xmax, ymin, ymax = region
    metal = layers.mu("steel")
    for _ in range(count):
        where = np.array([rng.uniform(xmin, xmax), rng.uniform(ymin, ymax)])
        if rng.random() < 0.3:  # a zip: a row of teeth
            heading = rng.uniform(0, math.pi)
            step = np.array([math.cos(heading), math.sin(heading)]) * 3.5 * k
            for tooth in range(int(rng.integers(10, 40))):
                ellipsoid(layers.dense, where + tooth * step, (1.6 * k, 1.0 * k), 1.0 * k, metal, rotation=heading)
        else:  # a snap or button: a ring or a disk
            radius = rng.uniform(4, 9) * k
            ellipsoid(layers.dense, where, (radius, radius), 0.8 * k, metal, cortex=0.6 * k,
                      cortex_mu=metal * (1 if rng.random() < 0.5 else 3))
    return count


def draw_gonad_shield(layers: FilmLayers, rng: np.random.Generator, sex: str, k: float, symphysis, size: float) -> bool:
    """A lead shield over a child's gonads: below the symphysis for a boy, over the lower pelvis for a girl."""
    if rng.random() >= 0.3:
        return False
    lead = layers.mu("lead")
    if sex == "male":
        top = np.asarray(symphysis) + np.array([0, -8 * size * k])
        width, height = rng.uniform(28, 40) * size * k, rng.uniform(30, 45) * size * k
        layers.dense.polygon([top + (-width / 2, 0), top + (width / 2, 0), top + (0, -height)], lead * 0.5 * k)
    else:
        centre = np.asarray(symphysis) + np.array([rng.uniform(-5, 5), rng.uniform(25, 45)]) * size * k
        ellipsoid(layers.dense, centre, (rng.uniform(30, 45) * size * k, rng.uniform(18, 28) * size * k), 0.5 * k, lead)
    return True
