"""Films that are not an adult AP pelvis after arthroplasty: negatives for the "prosthesis present" decision.

``make_negative_radiograph(seed, kind)`` draws, deterministically from the seed
and with the same exposure and vendor looks as the AP films:

* ``child_pelvis`` — a child's AP pelvis (2–12 years): small, with open growth
  plates (the triradiate cartilage as a lucent Y in the acetabulum, the
  femoral heads' and greater trochanters' physes), small ossified epiphyses in
  wide joint spaces, sometimes dysplastic (shallow, steep acetabular roofs),
  sometimes a lead gonad shield; no implant. Its keypoints are the "none" set
  (the five shared points and the femoral head centres: the centre of the
  cartilaginous head, round its ossified epiphysis);
* ``knee_ap`` — an AP knee, in 40 % with a knee arthroplasty (metal that is no cup);
* ``chest`` — a PA chest (dark lungs, ribs, spine, heart), sometimes with
  electrodes, a pacemaker or sternal wires;
* ``lateral_hip`` — a cross-table lateral hip, in half with a hip arthroplasty
  seen from the side;
* ``blank`` — a flat exposure (air or a slab), with noise and often collimation;
* ``noise`` — random fields, gradients and white noise.

All but ``child_pelvis`` have no keypoints; none has an operated side.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np

from .femur_anatomy import draw_native_hip, femur_pose
from .film_setup import DrawnCase, FilmSetup, develop_case, draw_film_pose, place_film
from .pelvis_anatomy import draw_pelvic_shape, draw_pelvis, place_landmarks
from .placement import frame_extent
from .radiograph_case import NO_OPERATED_SIDE, SIDES, PelvisRadiograph
from .soft_tissue import draw_body, draw_bowel_gas, draw_gonad_shield
from .textures import noise_field

NEGATIVE_KINDS = ("child_pelvis", "knee_ap", "chest", "lateral_hip", "blank", "noise")


def setup_film(rng: np.random.Generator, spacing_mm: Optional[float], field_mm: tuple[float, float],
               magnification: float, frame_centre=(0.0, 0.0), points=(), max_rotation: float = 15.0) -> FilmSetup:
    """Pose and film of a negative; ``field_mm`` (width, height); ``points`` must stay inside the exposed field."""
    return place_film(draw_film_pose(rng, spacing_mm, max_rotation), field_mm, magnification, frame_centre, points)


def drawn(setup: FilmSetup, rng: np.random.Generator, kind: str, details: dict, texture: float,
          keypoints_frame: Optional[dict] = None, marker: bool = True) -> DrawnCase:
    """A drawn negative: no operated side, no implant, ``details["kind"]`` = kind."""
    return DrawnCase(setup, rng, texture, dict(keypoints_frame or {}), (), {}, {"kind": kind, **details}, marker)


def _child_pelvis(rng: np.random.Generator, spacing_mm: Optional[float]) -> DrawnCase:
    age = float(rng.uniform(2, 12))
    magnification = float(rng.uniform(1.05, 1.15))
    k = magnification
    size = float(rng.uniform(0.85, 1.15))
    shape = draw_pelvic_shape(rng, size, age=age)
    tilt = math.radians(rng.uniform(-10, 10))
    marks = place_landmarks(shape, rng, k, tilt)
    field = (rng.uniform(0.85, 1.1) * 330 * shape.size + 60, rng.uniform(0.85, 1.1) * 260 * shape.size + 50)
    poses = {s: femur_pose(rng, shape, s, marks.hip_centre[s], marks.head_radius[s], k) for s in SIDES}
    points = {**{f"teardrop_{s}": marks.teardrop[s] for s in SIDES}, **{f"ischium_{s}": marks.ischium[s] for s in SIDES},
              "pubic_symphysis": marks.symphysis, **{f"femoral_head_{s}": marks.hip_centre[s] for s in SIDES}}
    s = shape.size * k
    setup = setup_film(rng, spacing_mm, field, magnification, (0.0, rng.uniform(-10, 30) * s), points.values())
    layers = setup.layers
    draw_body(layers, rng, shape.size, k, marks.symphysis[1] - 25 * s, frame_extent(setup.canvas))
    draw_bowel_gas(layers, rng, shape.size, k, (-110 * s, 110 * s, 20 * s, 170 * s))
    shield = draw_gonad_shield(layers, rng, shape.sex, k, marks.symphysis, shape.size)
    draw_pelvis(layers, shape, marks, k, tilt)
    hips = {side: draw_native_hip(layers, rng, shape, poses[side], k) for side in SIDES}
    details = {"age_years": age, "sex": shape.sex, "gonad_shield": shield, "child_hips": hips,
               "dysplastic": any(h["dysplastic"] for h in hips.values())}
    return drawn(setup, rng, "child_pelvis", details, rng.uniform(0.4, 0.8), {NO_OPERATED_SIDE: points})


def _blank(rng: np.random.Generator, spacing_mm: Optional[float]) -> DrawnCase:
    setup = setup_film(rng, spacing_mm, (rng.uniform(240, 430), rng.uniform(240, 430)), 1.0)
    slab = rng.uniform(0.0, 4.0) if rng.random() < 0.6 else 0.0  # air, or a uniform slab (a test phantom)
    setup.layers.soft.image += slab
    return drawn(setup, rng, "blank", {"slab": slab}, 0.0, marker=rng.random() < 0.5)


def _noise(rng: np.random.Generator, spacing_mm: Optional[float]) -> DrawnCase:
    """Random fields at a random scale, a gradient and white noise, in the full-resolution (untextured) layer."""
    setup = setup_film(rng, spacing_mm, (rng.uniform(240, 430), rng.uniform(240, 430)), 1.0)
    field_rng = np.random.default_rng(int(rng.integers(2 ** 63)))
    shape = (setup.rows, setup.columns)
    cell = rng.uniform(2, 60)
    smooth = noise_field(field_rng, shape, setup.spacing, (cell, cell * rng.uniform(0.3, 3)))
    rows = np.linspace(-1, 1, shape[0], dtype=np.float32)[:, None]
    columns = np.linspace(-1, 1, shape[1], dtype=np.float32)[None, :]
    angle = rng.uniform(0, 2 * math.pi)
    image = setup.layers.dense.image
    image += rng.uniform(0.5, 4.0) + rng.uniform(0, 1.5) * smooth
    image += rng.uniform(0, 2.0) * (math.cos(angle) * columns + math.sin(angle) * rows)
    white = rng.uniform(0, 0.5)
    if white > 0.05:
        image += white * field_rng.standard_normal(shape, dtype=np.float32)
    return drawn(setup, rng, "noise", {"cell_mm": cell, "white_noise": white}, 0.0, marker=False)


def _builders() -> dict[str, Callable[[np.random.Generator, Optional[float]], DrawnCase]]:
    from .chest_xray import draw_chest
    from .limb_xray import draw_knee, draw_lateral_hip

    return {"child_pelvis": _child_pelvis, "knee_ap": draw_knee, "chest": draw_chest, "lateral_hip": draw_lateral_hip,
            "blank": _blank, "noise": _noise}


def draw_negative_case(seed: int, kind: str, spacing_mm: Optional[float] = None) -> DrawnCase:
    """Everything of :func:`make_negative_radiograph` up to the exposure."""
    if kind not in NEGATIVE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(NEGATIVE_KINDS)}, got {kind!r}")
    # one stream per film; the kind enters the seed so that kinds drawn with the same seed differ
    rng = np.random.default_rng([int(seed), NEGATIVE_KINDS.index(kind) + 1])
    return _builders()[kind](rng, spacing_mm)


def make_negative_radiograph(seed: int, kind: str, spacing_mm: Optional[float] = None) -> PelvisRadiograph:
    """A film of ``kind`` (one of ``NEGATIVE_KINDS``) with no operated side; ``details["kind"]`` names it.

    ``spacing_mm``: draw at this pixel spacing instead of the film's own 0.1–0.2 mm.
    """
    return develop_case(draw_negative_case(seed, kind, spacing_mm))
