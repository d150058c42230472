"""Acetabular cups as they project on an AP film, and the bone bed they sit in.

A cup is a hemisphere whose opening faces inferolaterally (abduction, in the
film plane) and forward (anteversion, out of it): its rim projects as an
ellipse whose major axis is the cup's diameter, so the rim keypoints (the
diameter's ends) do not depend on anteversion. Each part is the path length
through a spherical shell cut by the opening's plane:

* ``press_fit`` shells (titanium or cobalt–chrome), with or without screw holes
  and screws, a polyethylene liner (radiolucent: a dark crescent between shell
  and head where the shell does not saturate) or a ceramic one, and a metal or
  ceramic head;
* ``cemented``: an all-polyethylene cup (radiolucent) outlined by its metal
  marker wire, in a barium cement mantle (bright, below metal) with pegs;
* ``dual_mobility``: a polished shell holding a large polyethylene head (the
  mobile insert, radiolucent) around a small metal head, sometimes in a metal
  liner;
* ``large_head``: a metal-on-metal shell with a large metal head filling it.

The head is always concentric with the cup: its centre is the cup centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .layers import FilmLayers
from .radiograph_case import HipImplant, mirror
from .solids import arc_band, ellipsoid, tube

CUP_DESIGNS = ("press_fit", "press_fit_holes", "press_fit_screws", "cemented", "dual_mobility", "large_head")
CUP_DESIGN_WEIGHTS = (0.22, 0.2, 0.2, 0.16, 0.12, 0.1)
HEAD_SIZES_MM = (22.0, 28.0, 32.0, 36.0, 40.0)


@dataclass(frozen=True)
class CupDesign:
    design: str
    shell: str  # material of the shell ("none" for a cemented cup)
    shell_mm: float
    liner: str  # "polyethylene", "ceramic", "metal" or "none"
    head: str  # material of the (small) metal or ceramic head
    head_mm: float  # true diameter
    holes: int
    screws: int
    anteversion_deg: float
    cement_mm: float = 0.0

    def as_details(self) -> dict:
        return dict(self.__dict__)


def draw_cup_design(rng: np.random.Generator, cup_mm: float) -> CupDesign:
    design = str(rng.choice(CUP_DESIGNS, p=CUP_DESIGN_WEIGHTS))
    anteversion = float(rng.uniform(0, 30))
    head_material = "ceramic" if rng.random() < 0.4 else "cobalt_chrome"
    if design == "cemented":
        head = float(rng.choice([22.0, 28.0, 32.0]))
        return CupDesign(design, "none", 0.0, "polyethylene", head_material, min(head, cup_mm - 14), 0, 0, anteversion,
                         cement_mm=float(rng.uniform(2, 4)))
    shell = "titanium" if rng.random() < 0.7 else "cobalt_chrome"
    shell_mm = float(rng.uniform(2.5, 4.5))
    if design == "large_head":
        return CupDesign(design, "cobalt_chrome", shell_mm, "none", "cobalt_chrome", cup_mm - 2 * shell_mm - 0.2, 0, 0, anteversion)
    if design == "dual_mobility":
        liner = "metal" if shell == "titanium" and rng.random() < 0.5 else "none"
        return CupDesign(design, shell if liner == "metal" else "cobalt_chrome", shell_mm, liner, head_material,
                         float(rng.choice([22.0, 28.0])), 0, 0, anteversion)
    holes = {"press_fit": 0, "press_fit_holes": int(rng.integers(1, 4)), "press_fit_screws": int(rng.integers(2, 4))}[design]
    screws = int(rng.integers(1, holes + 1)) if design == "press_fit_screws" else 0
    liner = "ceramic" if rng.random() < 0.2 else "polyethylene"
    room = cup_mm - 2 * shell_mm - 2 * (6.0 if liner == "polyethylene" else 5.0)  # liner at least 5–6 mm thick
    head = max([h for h in HEAD_SIZES_MM if h <= room] or [22.0])
    if rng.random() < 0.4:  # surgeons often take a smaller head than the largest that fits
        head = max([h for h in HEAD_SIZES_MM if h < head] or [head])
    return CupDesign(design, shell, shell_mm, liner, head_material, head, holes, screws, anteversion)


def _opening_axis(implant: HipImplant, anteversion_deg: float) -> np.ndarray:
    """Unit vector out of the cup's opening: inferolateral in the film plane, tilted forward (towards the beam's source)."""
    sign, beta, tilt = mirror(implant.side), math.radians(implant.abduction_deg), math.radians(anteversion_deg)
    return np.array([sign * math.sin(beta) * math.cos(tilt), -math.cos(beta) * math.cos(tilt), math.sin(tilt)])


def hemishell(layers_canvas, centre, outer: float, inner: float, axis: np.ndarray, mu: float) -> None:
    """Path through {inner ≤ |p| ≤ outer, p·axis ≤ 0} (a hemispherical shell whose opening faces ``axis``), times ``mu``."""
    cx, cy = float(centre[0]), float(centre[1])
    ax, ay, az = (float(v) for v in axis)
    az = max(az, 1e-4)

    def through(h, limit):  # length of [-h, h] ∩ (-inf, limit]
        return np.clip(limit, -h, h) + h

    def field(x, y):
        dx, dy = x - cx, y - cy
        rho2 = dx * dx + dy * dy
        limit = -(dx * ax + dy * ay) / az
        h_out = np.sqrt(np.maximum(outer * outer - rho2, 0.0))
        h_in = np.sqrt(np.maximum(inner * inner - rho2, 0.0))
        return ((through(h_out, limit) - through(h_in, limit)) * np.float32(mu)).astype(np.float32)

    layers_canvas.paint_field(field, (cx - outer, cx + outer, cy - outer, cy + outer))


def _dome_direction(axis: np.ndarray, polar_deg: float, azimuth_deg: float) -> np.ndarray:
    """Unit vector ``polar_deg`` from the dome's pole (opposite the opening), turned ``azimuth_deg`` about it."""
    pole = -axis
    first = np.cross(pole, [0.0, 0.0, 1.0])
    first = first / (np.linalg.norm(first) + 1e-12)
    second = np.cross(pole, first)
    polar, azimuth = math.radians(polar_deg), math.radians(azimuth_deg)
    return math.cos(polar) * pole + math.sin(polar) * (math.cos(azimuth) * first + math.sin(azimuth) * second)


def _screw(layers: FilmLayers, start, direction, length: float, radius: float, pitch: float, mu: float) -> None:
    """A cancellous screw: a core with a thread (sawtooth outline) and a head at ``start``."""
    end = np.asarray(start) + length * np.asarray(direction)
    steps = max(2, int(length / pitch))
    for index in range(steps):  # thread crests as short tapered pieces
        a = np.asarray(start) + (index / steps) * (end - np.asarray(start))
        b = np.asarray(start) + ((index + 1) / steps) * (end - np.asarray(start))
        tube(layers.dense, a, b, radius, radius * 0.6, mu)
    ellipsoid(layers.dense, start, (radius * 1.5, radius * 1.5), radius, mu)


def draw_cup(layers: FilmLayers, rng: np.random.Generator, implant: HipImplant, design: CupDesign) -> None:
    """The cup, its liner and head into the dense layer (the bone bed is drawn with the pelvis)."""
    dense, mu = layers.dense, layers.mu
    centre, outer = np.asarray(implant.cup_centre), implant.cup_radius
    axis = _opening_axis(implant, design.anteversion_deg)
    mag = 1.0 / layers.mu_scale  # film mm per true mm
    shell_inner = outer - design.shell_mm * mag
    head = implant.head_radius
    if design.design == "cemented":
        hemishell(dense, centre, outer + design.cement_mm * mag, outer, axis, mu("cement"))
        for _ in range(int(rng.integers(2, 6))):  # cement pegs in anchoring holes of the bone
            direction = _dome_direction(axis, rng.uniform(10, 60), rng.uniform(0, 360))
            where = centre + (outer + design.cement_mm * mag + 3 * mag) * direction[:2]
            ellipsoid(dense, where, (3 * mag, 3 * mag), 4 * mag, mu("cement"))
        beta = math.radians(implant.abduction_deg)
        rim_axis = math.atan2(math.cos(beta), mirror(implant.side) * math.sin(beta)) + math.pi / 2  # along the diameter
        minor = max(outer * math.sin(math.radians(design.anteversion_deg)), 0.6 * mag)
        arc_band(dense, centre, (outer, minor), 1.0 * mag, 0.0, 360.0, mu("steel"), rotation=rim_axis)  # marker wire
        if rng.random() < 0.5:  # a second wire over the dome
            dome = math.degrees(math.atan2(-axis[1], -axis[0]))
            arc_band(dense, centre, (outer * 0.98, outer * 0.98), 1.0 * mag, dome - 90, dome + 90, mu("steel"))
    else:
        hemishell(dense, centre, outer, shell_inner, axis, mu(design.shell))
        for index in range(design.holes):
            direction = _dome_direction(axis, rng.uniform(25, 55), rng.uniform(-60, 60) + 120 * index)
            where = centre + outer * direction[:2]
            foreshortening = max(abs(direction[2]), 0.25)
            radial = math.atan2(direction[1], direction[0])
            ellipsoid(dense, where, (3.2 * mag * foreshortening, 3.2 * mag), design.shell_mm * mag,
                      -mu(design.shell) / foreshortening * 0.5, rotation=radial)
            if index < design.screws:
                length = rng.uniform(20, 40) * mag
                planar = direction[:2] / (np.linalg.norm(direction[:2]) + 1e-9)
                _screw(layers, where, planar, length * np.linalg.norm(direction[:2]), 3.2 * mag, 2.8 * mag, mu("titanium"))
        if design.liner in ("ceramic", "metal"):
            liner_mu = mu("ceramic") if design.liner == "ceramic" else mu("cobalt_chrome")
            thickness = (3.0 if design.liner == "metal" else 5.0) * mag
            hemishell(dense, centre, shell_inner, shell_inner - thickness, axis, liner_mu)
    head_mu = mu("ceramic", 1.5) if design.head == "ceramic" else mu("cobalt_chrome")
    ellipsoid(dense, centre, (head, head), head, head_mu)


def draw_cup_bed(layers: FilmLayers, implant: HipImplant, points: dict, k: float, trabecular: float) -> None:
    """Acetabular bone over the covered rim (contact point round the dome to the medial end), with a sclerotic line."""
    centre, outer = np.asarray(implant.cup_centre), implant.cup_radius
    # the reamed acetabulum: only the walls in front of and behind the cup remain over it
    layers.bone.disk(centre, outer, 0.45, mode="scale")
    contact = math.degrees(math.atan2(*(points["cup_bone_contact"] - centre)[::-1]))
    medial = math.degrees(math.atan2(*(points["cup_medial"] - centre)[::-1]))
    start, end = (medial, contact) if implant.side == "right" else (contact, medial)
    layers.bone.annulus_sector(centre, outer, outer + 7 * k, start, end, layers.mu("trabecular", trabecular) * 24 * k)
    arc_band(layers.bone, centre, (outer + 1.0 * k, outer + 1.0 * k), 1.6 * k, start, end, layers.mu("cortical", 1.2))
