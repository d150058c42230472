"""A PA chest film: a negative that is plainly no pelvis, with its own metal now and then.

Frame: X towards the patient's left, Y up, origin mid-chest. The lungs are air
(negative attenuation) within the thorax; the heart and mediastinum are the
soft tissue left between them; the spine shows through the mediastinum;
posterior ribs sweep out from the spine and down, anterior ribs (fainter)
come back down towards the sternum; clavicles and scapulae above. ECG
electrodes, a pacemaker or sternal wires add metal that is no implant of the hip.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .film_setup import DrawnCase
from .negatives import drawn, setup_film
from .placement import frame_extent
from .solids import arc_band, ellipsoid, tube


def _ribs(layers, s: float, trab: float) -> None:
    """Posterior ribs sweep out from the spine and down (the upper half of an ellipse); anterior ribs,
    fainter, come back down towards the sternum (the lower half of a flatter one). Drawn on the ~1 mm
    soft-tissue grid: forty long arcs at the film's spacing would cost more than the rest of the film."""
    for level in range(10):
        y = (150 - 25 * level) * s
        reach = (62 + 9 * min(level, 5)) * s
        for sign in (-1, 1):
            centre = (sign * (14 * s + reach * 0.55), y - 22 * s)
            start, end = (-20.0, 165.0) if sign > 0 else (15.0, 200.0)
            arc_band(layers.soft, centre, (reach * 0.62, 32 * s), 9 * s, start, end, trab * 2.5)
            front_start, front_end = (200.0, 330.0) if sign > 0 else (210.0, 340.0)
            arc_band(layers.soft, (sign * (14 * s + reach * 0.45), y - 12 * s), (reach * 0.62, 34 * s), 7 * s,
                     front_start, front_end, trab)


def draw_chest(rng: np.random.Generator, spacing_mm: Optional[float]) -> DrawnCase:
    magnification = float(rng.uniform(1.05, 1.15))
    k = magnification
    size = float(rng.uniform(0.85, 1.15))
    s = size * k
    female = rng.random() < 0.5
    side = rng.uniform(350, 430)
    setup = setup_film(rng, spacing_mm, (side, side * rng.uniform(0.95, 1.1)), magnification,
                       (0.0, rng.uniform(-20, 20) * s), max_rotation=10.0)
    layers = setup.layers
    soft, trab, cort = layers.mu("soft"), layers.mu("trabecular"), layers.mu("cortical")
    half_width, depth = rng.uniform(140, 175) * s, rng.uniform(190, 250) * s
    layers.soft.paint_field(lambda x, y: np.sqrt(np.maximum(1 - (x / half_width) ** 2, 0)) * depth * soft
                            * np.clip((y + 260 * s) / (40 * s), 0, 1), frame_extent(setup.canvas))
    lung_depth = depth * rng.uniform(0.55, 0.75)
    for sign, width in ((-1, 1.0), (1, 0.92)):
        ellipsoid(layers.soft, (sign * 72 * s, 5 * s), (62 * s * width, 125 * s), lung_depth / 2, -soft * 0.85)
    heart = (rng.uniform(15, 30) * s, rng.uniform(-70, -50) * s)
    ellipsoid(layers.soft, heart, (rng.uniform(55, 75) * s, 50 * s), lung_depth / 2, soft * 0.8)
    ellipsoid(layers.soft, (22 * s, 75 * s), (14 * s, 12 * s), 20 * s, soft * 0.8)  # aortic knob
    ellipsoid(layers.soft, (0, 40 * s), (24 * s, 90 * s), lung_depth / 2, soft * 0.8)  # mediastinum
    if female:
        for sign in (-1, 1):
            ellipsoid(layers.soft, (sign * 85 * s, -95 * s), (60 * s, 40 * s), 15 * s, soft)
    with layers.one_bone():  # thoracic spine, seen through the mediastinum: bodies, pedicles
        for level in range(14):
            y = (175 - 24 * level) * s
            tube(layers.bone, (-11 * s, y), (11 * s, y), 9 * s, 9 * s, trab, cortex=1.0 * s, cortex_mu=cort * 0.6,
                 depth_scale=0.7)
            for sign in (-1, 1):
                ellipsoid(layers.bone, (sign * 13 * s, y + 3 * s), (3 * s, 4.5 * s), 4 * s, cort * 0.5)
    _vessels(layers, rng, s, soft)
    _ribs(layers, s, trab)
    for sign in (-1, 1):
        with layers.one_bone():  # clavicle
            tube(layers.bone, (sign * 18 * s, 150 * s), (sign * 80 * s, 165 * s), 8 * s, 7 * s, trab, cortex=2 * s, cortex_mu=cort)
            tube(layers.bone, (sign * 80 * s, 165 * s), (sign * 145 * s, 180 * s), 7 * s, 8 * s, trab, cortex=2 * s, cortex_mu=cort)
        ellipsoid(layers.bone, (sign * 135 * s, 110 * s), (30 * s, 65 * s), 6 * s, trab, rotation=sign * 0.3,
                  cortex=1.5 * s, cortex_mu=cort)  # scapula
        ellipsoid(layers.bone, (sign * 175 * s, 160 * s), (24 * s, 24 * s), 24 * s, trab, cortex=1.5 * s, cortex_mu=cort)
    devices = _devices(layers, rng, s, heart)
    return drawn(setup, rng, "chest", {"sex": "female" if female else "male", "devices": devices}, rng.uniform(0.3, 0.7))


def _vessels(layers, rng: np.random.Generator, s: float, soft: float) -> None:
    """Lung markings: vessels branching out from each hilum, thinning towards the periphery."""
    for sign in (-1, 1):
        hilum = np.array([sign * 40 * s, 15 * s])
        for _ in range(6):
            point, heading = hilum.copy(), np.arctan2(rng.uniform(-1, 1), sign * rng.uniform(0.3, 1.0))
            radius = rng.uniform(2.0, 3.5) * s
            for _ in range(int(rng.integers(3, 5))):
                step = rng.uniform(15, 28) * s * np.array([np.cos(heading), np.sin(heading)])
                tube(layers.soft, point, point + step, radius, radius * 0.8, soft * 0.9)
                point, radius = point + step, radius * 0.8
                heading += rng.normal(0, 0.3)


def _devices(layers, rng: np.random.Generator, s: float, heart) -> list[str]:
    dense, steel = layers.dense, layers.mu("steel")
    found = []
    if rng.random() < 0.3:
        for _ in range(int(rng.integers(2, 6))):  # ECG electrodes: a snap in a ring
            where = (rng.uniform(-140, 140) * s, rng.uniform(-120, 150) * s)
            ellipsoid(dense, where, (4 * s, 4 * s), 1.5 * s, steel)
            arc_band(dense, where, (9 * s, 9 * s), 0.6 * s, 0, 360, steel * 0.2)
        found.append("electrodes")
    if rng.random() < 0.1:  # a pacemaker in the upper chest, its lead to the heart
        can = np.array([rng.choice([-1, 1]) * rng.uniform(60, 100) * s, rng.uniform(100, 140) * s])
        ellipsoid(dense, can, (24 * s, 20 * s), 3 * s, layers.mu("titanium"), cortex=1 * s, cortex_mu=layers.mu("titanium", 3))
        tube(dense, can, (heart[0] - 20 * s, heart[1] + 10 * s), 1.0 * s, 1.0 * s, steel)
        found.append("pacemaker")
    if rng.random() < 0.1:  # sternal wires along the midline
        for index in range(int(rng.integers(4, 8))):
            y = (80 - 22 * index) * s
            arc_band(dense, (rng.uniform(-4, 4) * s, y), (8 * s, 3 * s), 1.2 * s, 0, 360, steel, rotation=rng.uniform(-0.2, 0.2))
        found.append("sternal_wires")
    return found
