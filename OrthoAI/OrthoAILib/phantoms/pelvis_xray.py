"""Synthetic AP pelvis radiographs (after total hip arthroplasty, or without), with exact keypoints.

A case draws a patient (sex, size ±20 %, pelvic shape, bone quality, body
habitus), a pose (in-plane rotation up to ±15°, pelvic tilt, shift), a
radiographic magnification and a pixel spacing (0.1–0.2 mm), then the
anatomy in three layers (``layers``): soft tissue with bowel gas and skin
folds; the bony pelvis and proximal femora with cortices and a trabecular
texture; implants. An operated hip gets a cup of one of several designs
(``hip_implants``: press-fit with or without holes and screws, cemented,
dual mobility, large metal head; 44–64 mm true size) and a stem of one of
several shapes (``stems``), sometimes with cerclage wires; a native hip may
be osteoarthritic. The film is then exposed and processed like a digital
radiograph of one of several vendors' looks (``film_looks``). Everything is
deterministic from the seed.

Films are in radiological orientation (the patient's right on the image's
left, superior at the top), MONOCHROME2 (dense is bright, metal brightest).
Keypoints come per operated side, with the nine role names of
``OrthoAILib.pipelines.hip.landmarks``; a film without an arthroplasty
(``operated="none"``) has one entry, ``"none"``: the five shared points and
``femoral_head_right`` / ``femoral_head_left``. Films that are not an adult
AP pelvis are made by :func:`make_negative_radiograph`.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .femur_anatomy import draw_femur_body, draw_native_hip, femur_pose
from .film_setup import DrawnCase, develop_case, draw_film_pose, place_film
from .hip_implants import draw_cup, draw_cup_bed, draw_cup_design
from .negatives import NEGATIVE_KINDS, make_negative_radiograph
from .pelvis_anatomy import draw_pelvic_shape, draw_pelvis, place_landmarks
from .placement import frame_extent
from .radiograph_case import NO_OPERATED_SIDE, SIDES, HipImplant, PelvisRadiograph, mirror
from .soft_tissue import draw_body, draw_bowel_gas, draw_skin_folds, draw_skin_metal
from .stems import draw_heterotopic_bone, draw_stem, draw_stem_design

__all__ = ["HipImplant", "PelvisRadiograph", "make_pelvis_radiograph", "draw_pelvis_case", "make_negative_radiograph",
           "NEGATIVE_KINDS", "OPERATED_CHOICES", "SIDES"]

OPERATED_CHOICES = ("right", "left", "bilateral", "none")
SHARED_POINTS = ("teardrop_right", "teardrop_left", "ischium_right", "ischium_left", "pubic_symphysis")


def implant_keypoints(implant: HipImplant) -> dict[str, np.ndarray]:
    """The cup's rim ends (its diameter through the centre, along the abduction) and where bone leaves the rim."""
    sign = mirror(implant.side)
    beta, alpha = math.radians(implant.abduction_deg), math.radians(implant.uncovered_deg)
    centre = np.array(implant.cup_centre)
    lateral = np.array([sign * math.cos(beta), math.sin(beta)])  # lateral end is superolateral
    lateral_angle = math.atan2(lateral[1], lateral[0])
    contact_angle = lateral_angle + (-alpha if implant.side == "right" else alpha)  # towards the dome
    return {
        "cup_lateral": centre + implant.cup_radius * lateral,
        "cup_medial": centre - implant.cup_radius * lateral,
        "cup_bone_contact": centre + implant.cup_radius * np.array([math.cos(contact_angle), math.sin(contact_angle)]),
    }


def _cup_size_mm(rng: np.random.Generator, native_head_mm: float) -> float:
    """True cup diameter: a few mm over the native head, an even size from 44 to 64 mm."""
    return float(np.clip(2 * round((native_head_mm + rng.uniform(2, 10)) / 2), 44, 64))


def draw_pelvis_case(seed: int = 0, *, operated: Optional[str] = None, spacing_mm: Optional[float] = None,
                     magnification: Optional[float] = None) -> DrawnCase:
    """Everything of :func:`make_pelvis_radiograph` up to the exposure: its layers and keypoints."""
    rng = np.random.default_rng(seed)
    if operated is None:
        operated = str(rng.choice(["right", "left", "bilateral"], p=[0.4, 0.4, 0.2]))
    if operated not in OPERATED_CHOICES:
        raise ValueError(f"operated must be one of {', '.join(OPERATED_CHOICES)}, got {operated!r}")
    operated_sides = {"bilateral": SIDES, "none": ()}.get(operated, (operated,))
    magnification = float(magnification if magnification is not None else rng.uniform(1.10, 1.20))
    pose = draw_film_pose(rng, spacing_mm)
    field_mm = (rng.uniform(360, 430), rng.uniform(280, 340))
    tilt = math.radians(rng.uniform(-8, 8))
    k = magnification  # film mm per true mm; the shape carries the patient's size
    centre_y = rng.uniform(-20, 20) * pose.size * k

    shape = draw_pelvic_shape(rng, pose.size)
    marks = place_landmarks(shape, rng, k, tilt)
    implants: dict[str, HipImplant] = {}
    cups, stems = {}, {}
    for side in operated_sides:
        cup_mm = _cup_size_mm(rng, 2 * marks.head_radius[side] / k)
        cups[side] = draw_cup_design(rng, cup_mm)
        offset = rng.normal(0, 2.5, size=2) if rng.random() < 0.75 else rng.uniform(-10, 10, size=2)
        implants[side] = HipImplant(
            side=side, cup_centre=tuple(marks.hip_centre[side] + offset * shape.size * k), cup_radius=cup_mm / 2 * k,
            abduction_deg=rng.uniform(25, 60), uncovered_deg=rng.uniform(5, 70), head_radius=cups[side].head_mm / 2 * k)
        stems[side] = draw_stem_design(rng)
    head_centre = {s: np.array(implants[s].cup_centre) if s in implants else marks.hip_centre[s] for s in SIDES}
    poses = {s: femur_pose(rng, shape, s, head_centre[s], marks.head_radius[s], k) for s in SIDES}
    osteoarthritis = {s: (rng.uniform(0.3, 1.0) if rng.random() < 0.35 else 0.0) for s in SIDES if s not in implants}

    # keypoints in the frame, then a film that holds them all inside its exposed field
    keypoints_frame: dict[str, dict[str, np.ndarray]] = {}
    shared = {**{f"teardrop_{s}": marks.teardrop[s] for s in SIDES}, **{f"ischium_{s}": marks.ischium[s] for s in SIDES},
              "pubic_symphysis": marks.symphysis}
    for side, implant in implants.items():
        other = "left" if side == "right" else "right"
        keypoints_frame[side] = {**implant_keypoints(implant), "contralateral_center": head_centre[other], **shared}
    if not implants:
        keypoints_frame[NO_OPERATED_SIDE] = {**shared, **{f"femoral_head_{s}": marks.hip_centre[s] for s in SIDES}}
    every_point = [p for points in keypoints_frame.values() for p in points.values()]
    setup = place_film(pose, field_mm, magnification, (0.0, centre_y), every_point)
    layers, canvas = setup.layers, setup.canvas

    # -- soft tissue, bone, implants ---------------------------------------------
    extent = frame_extent(canvas)
    s = shape.size * k
    body = draw_body(layers, rng, pose.size, k, marks.symphysis[1] - 25 * s, extent)
    gas = draw_bowel_gas(layers, rng, pose.size, k, (-110 * s, 110 * s, 30 * s, 170 * s))
    folds = draw_skin_folds(layers, rng, pose.size, k, extent)
    skin_metal = draw_skin_metal(layers, rng, k, (-160 * s, 160 * s, 60 * s, 180 * s), probability=0.12)
    draw_pelvis(layers, shape, marks, k, tilt)
    native = {}
    for side in SIDES:
        if side in implants:
            with layers.one_bone():
                draw_femur_body(layers, shape, poses[side], k, neck_from=0.55)
        else:
            native[side] = draw_native_hip(layers, rng, shape, poses[side], k, osteoarthritis[side])
    heterotopic = {}
    for side, implant in implants.items():
        draw_cup_bed(layers, implant, keypoints_frame[side], k, shape.trabecular)
        heterotopic[side] = draw_heterotopic_bone(layers, rng, poses[side], implant.cup_centre, s, shape.trabecular)
        draw_stem(layers, rng, poses[side], stems[side], implant.cup_centre)
        draw_cup(layers, rng, implant, cups[side])

    details = {
        "tilt_deg": math.degrees(tilt), "hip_centres_rc": {s_: canvas.pixel(marks.hip_centre[s_]) for s_ in SIDES},
        "sex": shape.sex, "osteoporotic": shape.osteoporotic, **body,
        "cup_design": {s_: d.design for s_, d in cups.items()}, "cups": {s_: d.as_details() for s_, d in cups.items()},
        "stem_shape": {s_: d.shape for s_, d in stems.items()}, "stems": {s_: d.as_details() for s_, d in stems.items()},
        "osteoarthritis": {s_: native[s_]["osteoarthritis"] for s_ in native}, "native_hips": native,
        "heterotopic_bone": heterotopic, "bowel_gas_loops": gas, "skin_folds": folds, "skin_metal": skin_metal,
    }
    return DrawnCase(setup, rng, float(rng.uniform(0.5, 1.0)), keypoints_frame, tuple(operated_sides), implants, details)


def make_pelvis_radiograph(seed: int = 0, *, operated: Optional[str] = None, spacing_mm: Optional[float] = None,
                           magnification: Optional[float] = None) -> PelvisRadiograph:
    """One synthetic adult AP pelvis film.

    ``operated``: "right", "left", "bilateral" or "none" (no implant; default: drawn at
    random among the first three, 40/40/20 %). ``spacing_mm``: draw at this pixel spacing
    instead of the case's own 0.1–0.2 mm (noise as if the native film had been averaged down).
    """
    return develop_case(draw_pelvis_case(seed, operated=operated, spacing_mm=spacing_mm, magnification=magnification))
