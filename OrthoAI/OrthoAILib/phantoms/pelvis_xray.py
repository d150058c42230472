"""Synthetic AP pelvis radiographs after total hip arthroplasty, with exact keypoints.

Anatomy is drawn in a patient frame (X towards the patient's left, Y
superior, mm): iliac wings, sacrum, pelvic ring with obturator foramina,
teardrops, ischial tuberosities, pubic symphysis, both proximal femora. An
operated hip gets a metal cup (a hemispherical shell seen from the front,
inclination 25–60°, partly covered by acetabular bone), a prosthetic head and
a stem; the other hip is native or a second prosthesis. Every case is random
in pose (rotation, pelvic tilt, shift), size, radiographic magnification,
pixel spacing (0.1–0.2 mm), exposure, contrast, noise, blur, anti-scatter grid
lines, collimation edges and burned-in text, and deterministic from its seed.

Films are in radiological orientation (the patient's right on the image's
left, superior at the top), MONOCHROME2 (dense is bright). Keypoints come per
operated side, with the nine role names of ``OrthoAILib.pipelines.hip.landmarks``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..geometry import ImageGeometry, pixel_points_to_ras, radiograph_geometry
from .glyphs import stamp_text
from .raster import Canvas

SIDES = ("right", "left")
METAL = 4.0


@dataclass(frozen=True)
class HipImplant:
    side: str
    cup_centre: tuple[float, float]  # patient frame, film mm
    cup_radius: float  # film mm
    abduction_deg: float
    uncovered_deg: float  # arc of the cup rim not covered by bone, from the lateral end
    head_radius: float


@dataclass(frozen=True)
class PelvisRadiograph:
    image: np.ndarray  # uint16 rows × columns, MONOCHROME2
    spacing_mm: float  # at the detector, square pixels
    geometry: ImageGeometry  # of the single-slice volume (KJI array image[None])
    bit_depth: int
    magnification: float  # film size / true size
    operated_sides: tuple[str, ...]
    implants: dict[str, HipImplant]
    keypoints_rc: dict[str, dict[str, np.ndarray]]  # side -> role name -> (row, column) pixels
    native_spacing_mm: float = 0.0  # the spacing the case was drawn for (differs when rendered coarser)
    details: dict = field(default_factory=dict, repr=False)

    @property
    def primary_side(self) -> str:
        return self.operated_sides[0]

    def keypoints_ras_for(self, side: str) -> dict[str, np.ndarray]:
        return pixel_points_to_ras(self.keypoints_rc[side], self.geometry)

    @property
    def keypoints_ras(self) -> dict[str, np.ndarray]:
        return self.keypoints_ras_for(self.primary_side)

    def cup_diameter_mm_for(self, side: str) -> float:
        """True cup diameter (what the operative record says), not the magnified film size."""
        return 2.0 * self.implants[side].cup_radius / self.magnification

    @property
    def cup_diameter_mm(self) -> float:
        return self.cup_diameter_mm_for(self.primary_side)


def _mirror(side: str) -> float:
    """Patient-frame X sign of a hip: the right hip is at negative X."""
    return -1.0 if side == "right" else 1.0


def _implant_keypoints(implant: HipImplant) -> dict[str, np.ndarray]:
    sign = _mirror(implant.side)
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


def make_pelvis_radiograph(seed: int = 0, *, operated: Optional[str] = None, spacing_mm: Optional[float] = None,
                           magnification: Optional[float] = None) -> PelvisRadiograph:
    """One synthetic film.

    ``operated``: "right", "left" or "bilateral" (default: drawn at random, 40/40/20 %).
    ``spacing_mm``: draw at this pixel spacing instead of the case's own 0.1–0.2 mm
    (noise is scaled as if the native film had been averaged down).
    """
    rng = np.random.default_rng(seed)
    if operated is None:
        operated = str(rng.choice(["right", "left", "bilateral"], p=[0.4, 0.4, 0.2]))
    if operated not in ("right", "left", "bilateral"):
        raise ValueError("operated must be 'right', 'left' or 'bilateral'")
    operated_sides = SIDES if operated == "bilateral" else (operated,)
    magnification = float(magnification if magnification is not None else rng.uniform(1.10, 1.20))
    scale = magnification * rng.uniform(0.9, 1.1)  # film mm per anatomical mm
    native_spacing = float(rng.uniform(0.1, 0.2))
    spacing = float(spacing_mm or native_spacing)
    field_w, field_h = rng.uniform(360, 430), rng.uniform(280, 340)
    rotation = math.radians(rng.uniform(-5, 5))
    tilt = math.radians(rng.uniform(-8, 8))
    shift = rng.uniform(-15, 15, size=2)

    # -- anatomy (film mm, patient frame, origin between the teardrops) --------
    k = scale
    # a pelvis is nearly symmetric: one half-width per structure, with small side-to-side differences
    teardrop_x, ischium_x, hip_lateral = rng.uniform(48, 56), rng.uniform(42, 52), rng.uniform(30, 40)
    teardrop = {s: np.array([_mirror(s) * (teardrop_x + rng.uniform(-1, 1)), rng.uniform(-1, 1)]) * k for s in SIDES}
    ischium_depth = rng.uniform(40, 50) * math.cos(tilt)
    ischium = {s: np.array([_mirror(s) * (ischium_x + rng.uniform(-1.5, 1.5)), -ischium_depth + rng.uniform(-1.5, 1.5)]) * k
               for s in SIDES}
    symphysis = np.array([rng.uniform(-2, 2), -rng.uniform(18, 26) * math.cos(tilt) + 45 * math.sin(tilt)]) * k
    hip_height = rng.uniform(6, 14)
    hip_centre = {s: np.array([_mirror(s) * (abs(teardrop[s][0]) / k + hip_lateral + rng.uniform(-1.5, 1.5)),
                               hip_height + rng.uniform(-1.5, 1.5)]) * k for s in SIDES}
    native_head = {s: rng.uniform(22, 26) * k for s in SIDES}
    implants: dict[str, HipImplant] = {}
    for side in operated_sides:
        offset = rng.normal(0, 2.5, size=2) if rng.random() < 0.75 else rng.uniform(-10, 10, size=2)
        implants[side] = HipImplant(
            side=side, cup_centre=tuple(hip_centre[side] + offset * k), cup_radius=rng.uniform(22, 30) * k,
            abduction_deg=rng.uniform(25, 60), uncovered_deg=rng.uniform(5, 70), head_radius=rng.uniform(11, 16) * k)

    # -- canvas: frame -> pixels ----------------------------------------------
    columns, rows = int(round(field_w / spacing)), int(round(field_h / spacing))
    centre_rc = np.array([rows / 2.0, columns / 2.0]) + np.array([-shift[1], shift[0]]) / spacing
    pelvis_centre_frame = np.array([0.0, -25.0 * k])  # roughly the middle of the drawn anatomy
    canvas = Canvas((rows, columns), 1.0 / spacing, rotation)
    canvas.to_pixel[:, 2] = 0.0
    canvas.to_pixel[:, 2] = centre_rc - canvas.to_pixel[:, :2] @ pelvis_centre_frame
    canvas.to_frame = np.linalg.inv(np.vstack([canvas.to_pixel, [0, 0, 1]]))[:2]

    canvas.image[:] = 0.25 + rng.uniform(-0.05, 0.05)
    canvas.ellipse((0, -20 * k), (field_w * 0.48, field_h * 0.75), 0.25)  # soft tissue of the body
    canvas.ellipse((0, 60 * k), (32 * k, 45 * k), 0.12)  # sacrum
    for side in SIDES:
        sign, hc = _mirror(side), hip_centre[side]
        canvas.ellipse((hc[0] - sign * 5 * k, hc[1] + 58 * k), (46 * k, 60 * k), 0.26, rotation=-sign * 0.35)  # iliac wing
        canvas.ellipse((hc[0] - sign * 12 * k, hc[1] + 62 * k), (28 * k, 38 * k), -0.08, rotation=-sign * 0.35)
        canvas.ellipse((sign * 45 * k, -18 * k), (50 * k, 40 * k * math.cos(tilt)), 0.14)  # pelvic ring and rami
        canvas.ellipse((sign * 33 * k, ischium[side][1] + 17 * k), (15 * k, 21 * k * math.cos(tilt)), -0.22,
                       rotation=-sign * 0.4)  # obturator foramen
        canvas.ellipse(ischium[side] + np.array([0, 8 * k]), (11 * k, 8 * k), 0.22)  # ischial tuberosity
        td = teardrop[side]
        canvas.ellipse(td + np.array([0, 9 * k]), (4.5 * k, 9 * k), 0.2)  # teardrop: a dense U
        canvas.ellipse(td + np.array([0, 11 * k]), (2.5 * k, 7.5 * k), -0.2)
        canvas.ellipse((symphysis[0] + sign * 7 * k, symphysis[1] - 9 * k), (6 * k, 9 * k), 0.2)  # pubic bodies:
        # their upper ends meet at the symphysis keypoint
        # femur: shaft, neck, greater trochanter, head (or the stem)
        shaft_top = hc + np.array([sign * 22 * k, -55 * k])
        canvas.polygon([shaft_top + [-14 * k, 0], shaft_top + [14 * k, 0],
                        shaft_top + [sign * 8 * k + 13 * k, -170 * k], shaft_top + [sign * 8 * k - 13 * k, -170 * k]], 0.22)
        canvas.polygon([hc + [0, 10 * k], hc + [0, -10 * k], shaft_top + [-sign * 12 * k, 0], shaft_top + [sign * 12 * k, 20 * k]], 0.18)
        canvas.ellipse(hc + np.array([sign * 38 * k, -35 * k]), (13 * k, 18 * k), 0.18)
        if side not in implants:
            canvas.disk(hc, native_head[side], 0.22)
            canvas.half_annulus(hc, native_head[side] + 1 * k, native_head[side] + 4 * k, (-sign, 1.0), 0.16)
    for side, implant in implants.items():
        sign, c = _mirror(side), np.array(implant.cup_centre)
        beta = math.radians(implant.abduction_deg)
        points = _implant_keypoints(implant)
        contact_angle = math.degrees(math.atan2(*(points["cup_bone_contact"] - c)[::-1]))
        medial_angle = math.degrees(math.atan2(*(points["cup_medial"] - c)[::-1]))
        # acetabular bone over the covered part of the rim: from the contact point round the dome to the medial end
        start, end = (medial_angle, contact_angle) if side == "right" else (contact_angle, medial_angle)
        canvas.annulus_sector(c, implant.cup_radius, implant.cup_radius + 6 * k, start, end, 0.3)
        shaft_top = hip_centre[side] + np.array([sign * 22 * k, -55 * k])  # where the femoral canal starts
        shaft_axis = np.array([sign * 8 * k, -170 * k]) / 170.0
        tip = shaft_top + 110 * shaft_axis
        canvas.polygon([c + [0, 5 * k], shaft_top + [sign * 9 * k, 8 * k], tip + [sign * 3 * k, 0],
                        tip + [-sign * 3 * k, 0], shaft_top + [-sign * 8 * k, -4 * k], c + [0, -5 * k]], METAL, mode="set")
        canvas.disk(c, implant.head_radius, METAL, mode="set")
        normal = (-sign * math.sin(beta), math.cos(beta))  # dome: superomedial
        canvas.half_annulus(c, implant.cup_radius - 4 * k, implant.cup_radius, normal, METAL, mode="set")

    # -- film effects --------------------------------------------------------------
    attenuation = canvas.image
    grid_period = rng.uniform(1.5, 4.0)
    attenuation += rng.uniform(0.005, 0.025) * np.cos(2 * math.pi * np.arange(columns) * spacing / grid_period)[None, :]
    exposure, gamma = rng.uniform(0.8, 1.4), rng.uniform(0.8, 1.25)
    film = (1.0 - np.exp(-exposure * np.clip(attenuation, 0, None))) ** gamma
    from scipy.ndimage import gaussian_filter

    film = gaussian_filter(film, sigma=rng.uniform(0.25, 0.5) / spacing)
    noise_scale = rng.uniform(0.006, 0.02) * min(1.0, native_spacing / spacing)
    film += noise_scale * np.sqrt(film + 0.1) * rng.standard_normal(film.shape, dtype=np.float32)
    margins = (rng.uniform(0, 25, size=4) / spacing).astype(int)  # top, bottom, left, right
    collimated = np.ones((rows, columns), dtype=bool)
    collimated[margins[0]: rows - margins[1], margins[2]: columns - margins[3]] = False
    film[collimated] = rng.uniform(0.9, 1.0)  # unexposed film reads as dense
    glyph = max(1, int(round(rng.uniform(0.8, 1.3) / spacing)))
    marker = "R" if rng.random() < 0.5 else "L"
    stamp_text(film, marker, (margins[0] + int(10 / spacing), margins[2] + int(10 / spacing)), glyph * 2, 1.0)
    stamp = f"{rng.integers(2015, 2026)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d} {rng.integers(0, 24):02d}:{rng.integers(0, 60):02d}"
    stamp_text(film, stamp, (rows - margins[1] - int(20 / spacing), margins[2] + int(10 / spacing)), glyph, 1.0)

    bit_depth = int(rng.choice([12, 14, 16]))
    image = np.round(np.clip(film, 0.0, 1.0) * (2 ** bit_depth - 1)).astype(np.uint16)

    # -- geometry and keypoints --------------------------------------------------------
    geometry = radiograph_geometry((rows, columns), (spacing, spacing))
    keypoints_rc: dict[str, dict[str, np.ndarray]] = {}
    for side, implant in implants.items():
        other = "left" if side == "right" else "right"
        contralateral = np.array(implants[other].cup_centre) if other in implants else hip_centre[other]
        frame_points = dict(_implant_keypoints(implant))
        frame_points["contralateral_center"] = contralateral
        frame_points.update({f"teardrop_{s}": teardrop[s] for s in SIDES})
        frame_points.update({f"ischium_{s}": ischium[s] for s in SIDES})
        frame_points["pubic_symphysis"] = symphysis
        keypoints_rc[side] = {name: canvas.pixel(xy) for name, xy in frame_points.items()}
    details = {"rotation_deg": math.degrees(rotation), "tilt_deg": math.degrees(tilt), "marker": marker,
               "hip_centres_rc": {s: canvas.pixel(hip_centre[s]) for s in SIDES}}
    return PelvisRadiograph(image, spacing, geometry, bit_depth, magnification, operated_sides, implants,
                            keypoints_rc, native_spacing, details)
