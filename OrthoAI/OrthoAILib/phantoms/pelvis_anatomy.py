"""The bony pelvis of an AP film: its shape, its landmarks, and how it is drawn.

Shapes vary by sex (a female pelvis is wider, with rounder inlet, flared wings,
wider subpubic arch and rounder obturator foramina), age (a child's pelvis is
small, see ``child_features``) and bone quality (osteoporotic: thin cortices,
faint trabeculae). Landmarks are exact by construction: the teardrop's U and
the ischial tuberosity are ellipsoids whose lowest points are the keypoints,
the pubic bodies' upper ends lie level with the symphysis keypoint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .layers import FilmLayers
from .radiograph_case import SIDES, mirror
from .solids import arc_band, ellipsoid, polyline, tube


@dataclass(frozen=True)
class PelvisShape:
    """Anatomical millimetres of one patient (before magnification)."""
    sex: str
    age: Optional[float]  # years; None for an adult
    osteoporotic: bool
    size: float  # overall scale (patient size), 1 = an average adult
    teardrop_x: float  # each teardrop's distance from the midline
    ischium_x: float
    hip_lateral: float  # hip centre lateral to the teardrop
    hip_height: float  # hip centre above the teardrops
    ischium_depth: float
    symphysis_depth: float
    head_radius: float
    wing_reach: float  # iliac crest's lateral reach beyond the hip centre
    wing_height: float  # iliac crest above the hip centre
    inlet_half_width: float
    pubic_gap: float
    cortex: float
    trabecular: float  # trabecular density factor

    @property
    def child(self) -> bool:
        return self.age is not None


def draw_pelvic_shape(rng: np.random.Generator, size: float, age: Optional[float] = None) -> PelvisShape:
    """One patient's pelvis. ``age`` in years for a child (2–12), None for an adult."""
    sex = "female" if rng.random() < 0.5 else "male"
    female = sex == "female"
    growth = 1.0 if age is None else 0.42 + 0.045 * age  # a 2-year-old's pelvis is about half an adult's
    s = size * growth
    osteoporotic = age is None and rng.random() < (0.3 if female else 0.15)
    return PelvisShape(
        sex=sex, age=age, osteoporotic=osteoporotic, size=s,
        teardrop_x=rng.uniform(48, 56) * s * (1.04 if female else 1.0),
        ischium_x=rng.uniform(42, 52) * s * (1.08 if female else 0.97),
        hip_lateral=rng.uniform(30, 40) * s,
        hip_height=rng.uniform(6, 14) * s,
        ischium_depth=rng.uniform(40, 50) * s * (0.95 if female else 1.05),
        symphysis_depth=rng.uniform(18, 26) * s,
        head_radius=rng.uniform(21, 23.5) * s if female else rng.uniform(23, 26) * s,
        wing_reach=rng.uniform(40, 55) * s * (1.1 if female else 1.0),
        wing_height=rng.uniform(105, 130) * s * (0.93 if female else 1.0),
        inlet_half_width=rng.uniform(55, 65) * s * (1.1 if female else 0.95),
        pubic_gap=(rng.uniform(6, 10) if age is not None else rng.uniform(3, 6)) * s,
        cortex=(rng.uniform(0.8, 1.2) if osteoporotic else rng.uniform(1.3, 2.0)) * s,
        trabecular=rng.uniform(0.45, 0.7) if osteoporotic else rng.uniform(0.85, 1.15),
    )


@dataclass(frozen=True)
class PelvisLandmarks:
    """Film millimetres, patient frame (origin between the teardrops)."""
    teardrop: dict[str, np.ndarray]
    ischium: dict[str, np.ndarray]
    symphysis: np.ndarray
    hip_centre: dict[str, np.ndarray]
    head_radius: dict[str, float]


def place_landmarks(shape: PelvisShape, rng: np.random.Generator, k: float, tilt: float) -> PelvisLandmarks:
    """Keypoint positions: a nearly symmetric pelvis, with small side-to-side differences."""
    teardrop = {s: np.array([mirror(s) * (shape.teardrop_x + rng.uniform(-1, 1)), rng.uniform(-1, 1)]) * k for s in SIDES}
    depth = shape.ischium_depth * math.cos(tilt)
    ischium = {s: np.array([mirror(s) * (shape.ischium_x + rng.uniform(-1.5, 1.5)), -depth + rng.uniform(-1.5, 1.5)]) * k
               for s in SIDES}
    symphysis = np.array([rng.uniform(-2, 2), -shape.symphysis_depth * math.cos(tilt) + 45 * shape.size * math.sin(tilt)]) * k
    hip_centre = {s: np.array([mirror(s) * (abs(teardrop[s][0]) / k + shape.hip_lateral + rng.uniform(-1.5, 1.5)),
                               shape.hip_height + rng.uniform(-1.5, 1.5)]) * k for s in SIDES}
    head_radius = {s: shape.head_radius * rng.uniform(0.98, 1.02) * k for s in SIDES}
    return PelvisLandmarks(teardrop, ischium, symphysis, hip_centre, head_radius)


def _sacrum(layers: FilmLayers, shape: PelvisShape, k: float, tilt: float) -> None:
    """A wedge, rounded (thick in the middle, thin at its edges), with four pairs of foramina; L5 above it."""
    bone, s = layers.bone, shape.size * k
    trab = layers.mu("trabecular", shape.trabecular)
    top = (105 - 30 * math.sin(tilt)) * s
    tube(bone, (0, top), (0, 8 * s), 46 * s, 12 * s, trab, depth_scale=0.3, caps=(False, True))  # flat top: S1's endplate
    for level, y in enumerate((0.85, 0.66, 0.48, 0.32)):  # sacral foramina, smaller down the sacrum
        for sign in (-1, 1):
            ellipsoid(bone, (sign * (20 - 2 * level) * s, top * y), ((5 - level * 0.6) * s, (4 - level * 0.5) * s),
                      10 * s, -trab)
    tube(bone, (0, top), (0, 15 * s), 4 * s, 2 * s, layers.mu("cortical", 0.4))  # median crest
    if shape.child:  # unfused segments: lucent discs
        for y in (0.78, 0.58, 0.4):
            tube(bone, (-30 * s * y, top * y), (30 * s * y, top * y), 1.5 * s, 1.5 * s, -layers.mu("trabecular", 2))
    # L5 above the sacrum: body, pedicles, transverse processes; the disc between is soft tissue
    body_y = top + 30 * s
    tube(bone, (-14 * s, body_y), (14 * s, body_y), 14 * s, 14 * s, trab, cortex=shape.cortex * k,
         cortex_mu=layers.mu("cortical"), depth_scale=1.1)
    for sign in (-1, 1):
        ellipsoid(bone, (sign * 15 * s, body_y + 3 * s), (4 * s, 6 * s), 6 * s, layers.mu("cortical"), cortex=1.2 * s,
                  cortex_mu=layers.mu("cortical", 2))
        tube(bone, (sign * 20 * s, body_y + 4 * s), (sign * 45 * s, body_y + 10 * s), 6 * s, 4 * s, trab)


def _ilium(layers: FilmLayers, shape: PelvisShape, marks: PelvisLandmarks, side: str, k: float) -> None:
    """The wing as a thin shell (bright rims, thin fossa), the thick bone over the acetabulum, the pelvic brim."""
    bone, sign, s = layers.bone, mirror(side), shape.size * k
    hx, hy = marks.hip_centre[side]
    r = marks.head_radius[side]
    reach, height = shape.wing_reach * k, shape.wing_height * k
    trab, cort = layers.mu("trabecular", shape.trabecular), layers.mu("cortical")
    wing_x = (hx + sign * reach * 0.25 + sign * 40 * s) / 2
    half_width = abs(hx + sign * reach - sign * 40 * s) / 2
    wing = (wing_x, hy + (r + height) / 2)
    tilt = -sign * 0.3
    ellipsoid(bone, wing, (half_width, (height - r) / 2 + 6 * s), 8 * s, trab, rotation=tilt,
              cortex=max(shape.cortex * k, 1.2 * s), cortex_mu=cort)
    if not shape.child or shape.age > 9:  # the crest's apophysis ossifies late
        arc_band(bone, wing, (half_width, (height - r) / 2 + 6 * s), 3.0 * s, 20, 160, layers.mu("cortical", 0.8),
                 rotation=tilt)
    ellipsoid(bone, (hx - sign * 4 * s, hy + r + 16 * s), (32 * s, 22 * s), 22 * s, trab, rotation=tilt * 0.5)
    ellipsoid(bone, (sign * 42 * s, hy + 0.6 * height), (12 * s, 0.35 * height), 8 * s, trab, rotation=-tilt * 0.3)
    brim = [(sign * 40 * s, hy + 0.85 * height), (sign * 36 * s, hy + 0.45 * height),
            (sign * shape.inlet_half_width * k * 0.78, hy + 0.1 * height),
            (sign * shape.inlet_half_width * k * 0.6, -6 * s), (sign * 12 * s, marks.symphysis[1] - 1 * s)]
    polyline(bone, brim, 2.0 * s, layers.mu("cortical", 1.3))


def _pubis_and_ischium(layers: FilmLayers, shape: PelvisShape, marks: PelvisLandmarks, side: str, k: float) -> None:
    """Pubic body, the rami round the obturator foramen, the ischium down to its tuberosity; teardrop, Köhler's line."""
    bone, sign, s = layers.bone, mirror(side), shape.size * k
    hx, hy = marks.hip_centre[side]
    r = marks.head_radius[side]
    trab, cortex, cort = layers.mu("trabecular", shape.trabecular), shape.cortex * k, layers.mu("cortical")
    sx, sy = marks.symphysis
    half_width = 7.5 * s
    body = np.array([sx + sign * (shape.pubic_gap * k / 2 + half_width), sy - 13 * s])
    # pubic body: a block with rounded ends whose top lies level with the symphysis keypoint
    tube(bone, (body[0], sy - half_width), (body[0], sy - 26 * s + half_width), half_width, half_width, trab,
         cortex=cortex, cortex_mu=cort, depth_scale=0.8)
    ischium = marks.ischium[side]
    tuber_r = (10 * s, 9 * s)
    tuberosity = ischium + np.array([0, tuber_r[1]])
    ellipsoid(bone, tuberosity, tuber_r, 16 * s, trab, cortex=cortex * 0.6, cortex_mu=cort)
    # the acetabulum's walls round the head; the rami and the ischium end flat inside them
    ellipsoid(bone, (hx - sign * 3 * s, hy + 2 * s), (r + 7 * s, r + 7 * s), 9 * s, trab)
    tube(bone, body + np.array([sign * 2 * s, 7 * s]), (hx - sign * 0.75 * r, hy - 0.45 * r), 5.5 * s, 9 * s, trab,
         cortex=cortex, cortex_mu=cort, caps=(True, False))  # superior ramus
    tube(bone, body + np.array([sign * 2 * s, -9 * s]), tuberosity + np.array([-sign * 6 * s, -3 * s]), 4.5 * s, 5.5 * s,
         trab, cortex=cortex, cortex_mu=cort)  # inferior ramus
    if shape.child and shape.age < 8:  # the ischiopubic synchondrosis, not yet fused: a lucent gap in the ramus
        gap = (body + tuberosity) / 2 + np.array([0, -5 * s])
        tube(bone, gap + np.array([-2 * s, -8 * s]), gap + np.array([2 * s, 8 * s]), 1.5 * s, 1.5 * s, -cort * 3)
    tube(bone, tuberosity + np.array([sign * 2 * s, 4 * s]), (hx - sign * 0.3 * r, hy - 0.6 * r), 8 * s, 12 * s, trab,
         cortex=cortex, cortex_mu=cort, caps=(True, False))  # ischial body
    # the obturator foramen: a thin plate between the rami, holed, with a cortical rim round the hole
    foramen = np.array([sx + sign * 0.6 * abs(ischium[0] - sx), (sy + ischium[1]) / 2 + 6 * s])
    hole, tilt = np.array([13.0, 16.0]) * s, -sign * 0.35
    ellipsoid(bone, foramen, hole + 8 * s, 6 * s, trab, rotation=tilt)
    ellipsoid(bone, foramen, hole, 20 * s, -layers.mu("cortical", 4.0), rotation=tilt)
    arc_band(bone, foramen, hole + 0.6 * s, 1.8 * s, 0.0, 360.0, layers.mu("cortical", 0.8), rotation=tilt)
    # teardrop: a dense U whose lowest point is the keypoint; the ilio-ischial line beside it
    teardrop = marks.teardrop[side]
    ellipsoid(bone, teardrop + np.array([0, 9 * s]), (4.5 * s, 9 * s), 6 * s, layers.mu("trabecular", 0.5),
              cortex=1.2 * s, cortex_mu=layers.mu("cortical", 1.5))
    polyline(bone, [(teardrop[0] + sign * 7 * s, hy + 0.35 * shape.wing_height * k),
                    (teardrop[0] + sign * 6 * s, teardrop[1] + 4 * s),
                    (ischium[0] - sign * 3 * s, ischium[1] + 2.2 * tuber_r[1])], 1.4 * s, cort)


def side_arc(side: str, start_deg: float, end_deg: float) -> tuple[float, float]:
    """Frame angles (counter-clockwise) of an arc given from the lateral direction (0 lateral, 90 up, 180 medial)."""
    return (start_deg, end_deg) if side == "left" else (180.0 - end_deg, 180.0 - start_deg)


def draw_native_acetabulum(layers: FilmLayers, shape: PelvisShape, centre, head_radius: float, joint_space: float,
                           side: str, k: float, sclerosis: float = 1.0, roof_from_deg: float = 20.0) -> None:
    """Sourcil (the sclerotic roof) over the head, and the faint posterior and anterior walls across it."""
    bone, sign, s = layers.bone, mirror(side), shape.size * k
    radius = head_radius + joint_space
    arc_band(bone, centre, (radius + 1.5 * s, radius + 1.5 * s), 3 * s * sclerosis, *side_arc(side, roof_from_deg, 165.0),
             layers.mu("cortical", sclerosis))
    for shift, scale, arc in ((-0.2, 0.97, (270.0, 375.0)), (0.25, 0.92, (95.0, 250.0))):  # posterior, anterior wall
        wall_centre = (centre[0] + sign * shift * head_radius, centre[1])
        arc_band(bone, wall_centre, (radius * scale, radius * scale), 1.6 * s, *side_arc(side, *arc),
                 layers.mu("cortical", 0.6))


def draw_pelvis(layers: FilmLayers, shape: PelvisShape, marks: PelvisLandmarks, k: float, tilt: float) -> None:
    with layers.one_bone():
        _sacrum(layers, shape, k, tilt)
    for side in SIDES:
        with layers.one_bone():
            _ilium(layers, shape, marks, side, k)
            _pubis_and_ischium(layers, shape, marks, side, k)
