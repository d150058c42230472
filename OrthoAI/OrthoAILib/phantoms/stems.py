"""Femoral stems, their cement, cerclage wires and heterotopic bone, on an AP film.

A stem sits in the femoral canal of a resected femur; its neck runs from the
stem's body to the prosthetic head, whose centre is the cup centre. Shapes
differ the way real families do: a straight tapered wedge, an anatomic stem
with a proximal curve, a short stem hugging the calcar, a polished tapered
stem in a cement mantle with the cement plug below it, a long revision stem
(often with cerclage), a collared stem. Titanium is bright; cobalt–chrome and
steel saturate like the head.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .femur_anatomy import FemurPose
from .layers import FilmLayers
from .solids import arc_band, ellipsoid, plate, tube

STEM_SHAPES = ("tapered_wedge", "anatomic", "short", "cemented_polished", "long_revision", "collared")
STEM_WEIGHTS = (0.3, 0.15, 0.15, 0.2, 0.08, 0.12)


@dataclass(frozen=True)
class StemDesign:
    shape: str
    material: str
    length_mm: float  # true length below the junction of neck and shaft axes
    cement_mm: float
    cerclage: int

    def as_details(self) -> dict:
        return dict(self.__dict__)


def draw_stem_design(rng: np.random.Generator) -> StemDesign:
    shape = str(rng.choice(STEM_SHAPES, p=STEM_WEIGHTS))
    length = {"short": rng.uniform(60, 85), "long_revision": rng.uniform(190, 260)}.get(shape, rng.uniform(105, 145))
    cemented = shape == "cemented_polished"
    material = (str(rng.choice(["cobalt_chrome", "steel"])) if cemented
                else str(rng.choice(["titanium", "cobalt_chrome"], p=[0.7, 0.3])))
    cerclage_probability = 0.6 if shape == "long_revision" else 0.1
    cerclage = int(rng.integers(1, 4)) if rng.random() < cerclage_probability else 0
    return StemDesign(shape, material, float(length), float(rng.uniform(2, 4)) if cemented else 0.0, cerclage)


def _outline(pose: FemurPose, canal: float, length: float, shape: str, width: float = 1.0) -> list[np.ndarray]:
    """The stem's body, down the lateral side to the tip and back up the medial (calcar) side."""
    bow = 0.25 * canal if shape == "anatomic" else 0.0
    tip_lateral = 0.35 * canal if shape == "short" else 0.0
    w = canal * width
    along = lambda v, u: pose.at(v, u + bow * math.sin(math.pi * min(max(v / length, 0), 1)))  # noqa: E731
    if shape == "long_revision":
        lateral = [along(-0.6 * canal, 0.8 * w), along(0.3 * length, 0.7 * w), along(length, 0.6 * w)]
        medial = [along(length, -0.6 * w), along(0.3 * length, -0.7 * w), along(1.8 * canal, -0.8 * w)]
    else:
        lateral = [along(-0.6 * canal, 0.8 * w), along(0.5 * length, 0.55 * w), along(length, 0.3 * w + tip_lateral)]
        medial = [along(length, -0.3 * w + tip_lateral), along(0.5 * length, -0.5 * w), along(1.8 * canal, -0.8 * w)]
    tip = along(length + 0.3 * canal, tip_lateral)
    calcar = along(0.5 * canal, -1.15 * w)
    return lateral + [tip] + medial + [calcar]


def draw_stem(layers: FilmLayers, rng: np.random.Generator, pose: FemurPose, design: StemDesign, head_centre) -> None:
    dense, mu = layers.dense, layers.mu
    mag = 1.0 / layers.mu_scale
    canal = pose.shaft_radius - pose.cortex
    length = design.length_mm * mag
    head_centre = np.asarray(head_centre, dtype=float)
    neck_direction = (head_centre - pose.junction) / np.linalg.norm(head_centre - pose.junction)
    neck_base = pose.junction + 0.35 * np.linalg.norm(head_centre - pose.junction) * neck_direction
    across = np.array([-neck_direction[1], neck_direction[0]])
    neck_half = 7.5 * mag
    if design.shape == "cemented_polished":  # mantle filling the canal, ending at the plug below the tip
        mantle = _outline(pose, canal, length + design.cement_mm * mag * 3, "tapered_wedge", width=1.15)
        plate(dense, mantle, 2.0 * canal, mu("cement"))
        plate(dense, _outline(pose, canal, length, design.shape, width=0.75), 11 * mag, mu(design.material) - mu("cement"))
    else:
        plate(dense, _outline(pose, canal, length, design.shape), 11 * mag, mu(design.material))
    # the neck widens from the trunnion under the head down into the top of the body
    tube(dense, pose.at(0.1 * canal, -0.2 * canal), head_centre, neck_half * 1.4, neck_half * 0.75, mu(design.material),
         depth_scale=0.8)
    if design.shape == "collared":
        tube(dense, neck_base - across * neck_half * 2.2, neck_base + across * neck_half * 2.2, 2 * mag, 2 * mag,
             mu(design.material), depth_scale=4.0)
    for index in range(design.cerclage):
        depth = rng.uniform(0.0, 4.0) * canal + index * 12 * mag
        level = pose.at(depth)
        outer = pose.shaft_radius * (1.35 if depth < 1.5 * canal else 1.05) + 1 * mag  # wider round the trochanters
        arc_band(dense, level, (outer, rng.uniform(2, 5) * mag), rng.uniform(1.0, 2.0) * mag, 0.0, 360.0, mu("steel"),
                 rotation=pose.rotation)
        ellipsoid(dense, level + pose.lateral * outer, (2.5 * mag, 3 * mag), 2 * mag, mu("steel"))  # knot or crimp


def draw_heterotopic_bone(layers: FilmLayers, rng: np.random.Generator, pose: FemurPose, head_centre, k: float,
                          trabecular: float) -> int:
    """Islands of bone in the soft tissue lateral to the neck (after arthroplasty, common and harmless)."""
    if rng.random() >= 0.15:
        return 0
    count = int(rng.integers(1, 4))
    for _ in range(count):
        where = (np.asarray(head_centre) + pose.lateral * rng.uniform(20, 40) * k
                 + np.array([0.0, rng.uniform(-10, 20)]) * k)
        ellipsoid(layers.bone, where, (rng.uniform(3, 10) * k, rng.uniform(3, 8) * k), 8 * k,
                  layers.mu("trabecular", 2 * trabecular), rotation=rng.uniform(0, math.pi))
    return count
