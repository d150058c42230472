"""Negatives of the limbs: an AP knee (native or with a knee arthroplasty) and a cross-table lateral hip.

Both carry metal often enough to teach that metal alone is no acetabular cup:
a knee's femoral component and tibial tray, a hip prosthesis seen from the
side (the shell as a half-ring opening forwards, the stem along a horizontal
femur). Frames: the knee's X towards the patient's left, Y up, origin on the
joint line; the lateral hip's X along the femur from the head, Y anterior.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .hip_implants import hemishell
from .film_setup import DrawnCase
from .negatives import drawn, setup_film
from .placement import frame_extent
from .radiograph_case import mirror
from .solids import arc_band, ellipsoid, plate, tube


def _leg_soft_tissue(setup, rng: np.random.Generator, size: float, k: float, horizontal: bool = False) -> None:
    half, depth = rng.uniform(50, 85) * size * k, rng.uniform(100, 150) * size * k
    fat = rng.uniform(5, 20) * size * k
    soft, fat_mu = setup.layers.mu("soft"), setup.layers.mu("fat")

    def field(x, y):
        across = y if horizontal else x
        total = np.sqrt(np.maximum(1 - (across / half) ** 2, 0)) * depth
        muscle = np.sqrt(np.maximum(1 - (across / (half - fat)) ** 2, 0)) * (depth - 2 * fat)
        return soft * total + fat_mu * (total - muscle)

    setup.layers.soft.paint_field(field, frame_extent(setup.canvas))


def draw_knee(rng: np.random.Generator, spacing_mm: Optional[float]) -> DrawnCase:
    side = "right" if rng.random() < 0.5 else "left"
    lateral = mirror(side)  # the fibula is lateral
    magnification = float(rng.uniform(1.03, 1.1))
    k = magnification
    size = float(rng.uniform(0.85, 1.15))
    s = size * k
    prosthesis = rng.random() < 0.4
    setup = setup_film(rng, spacing_mm, (rng.uniform(200, 260), rng.uniform(260, 330)), magnification,
                       (0.0, rng.uniform(-20, 20) * s), max_rotation=10.0)
    layers = setup.layers
    _leg_soft_tissue(setup, rng, size, k)
    trab, cort = layers.mu("trabecular"), layers.mu("cortical")
    cortex = rng.uniform(1.0, 1.8) * s
    width = rng.uniform(36, 44) * s  # half the condylar width
    with layers.one_bone():  # femur
        bone = layers.bone
        tube(bone, (0, 90 * s), (0, 260 * s), 15 * s, 14 * s, trab, cortex=rng.uniform(4, 6) * s, cortex_mu=cort, caps=False)
        tube(bone, (0, 95 * s), (0, 35 * s), 15.5 * s, width * 0.85, trab, cortex=cortex, cortex_mu=cort, caps=False)
        for sign, scale in ((lateral, 0.95), (-lateral, 1.0)):  # condyles: broad, flattened distally
            ellipsoid(bone, (sign * width * 0.45, 22 * s), (width * 0.56 * scale, 22 * s), 22 * s, trab,
                      cortex=cortex, cortex_mu=cort)
        ellipsoid(bone, (0, 8 * s), (9 * s, 14 * s), 25 * s, -trab * 2)  # intercondylar notch
    joint = rng.uniform(4, 7) * s * (2.2 if prosthesis else 1.0)  # the insert widens the space
    plateau = -joint
    with layers.one_bone():  # tibia
        bone = layers.bone
        tube(bone, (0, plateau - 8 * s), (0, plateau - 75 * s), width * 0.95, 17 * s, trab, cortex=cortex, cortex_mu=cort,
             caps=(True, False), depth_scale=0.8)
        tube(bone, (0, plateau - 70 * s), (0, -300 * s), 17 * s, 14 * s, trab, cortex=rng.uniform(4, 6) * s, cortex_mu=cort,
             caps=False)
        for sign in (-1, 1):
            ellipsoid(bone, (sign * 5 * s, plateau + 1 * s), (4 * s, 6 * s), 10 * s, trab)  # tibial spines
    with layers.one_bone():  # fibula: head tucked behind the lateral tibia
        ellipsoid(layers.bone, (lateral * width * 0.85, plateau - 28 * s), (9 * s, 11 * s), 14 * s, trab,
                  cortex=cortex, cortex_mu=cort)
        tube(layers.bone, (lateral * width * 0.82, plateau - 35 * s), (lateral * width * 0.7, -300 * s), 7 * s, 6 * s, trab,
             cortex=2.5 * s, cortex_mu=cort, caps=(True, False))
    ellipsoid(layers.bone, (rng.uniform(-5, 5) * s, rng.uniform(20, 40) * s), (21 * s, 25 * s), 10 * s, trab,
              cortex=cortex * 0.6, cortex_mu=cort * 0.6)  # patella, faint through the femur
    design = "none"
    if prosthesis:
        design = _knee_prosthesis(layers, rng, width, plateau, s, lateral)
    return drawn(setup, rng, "knee_ap", {"side": side, "knee_prosthesis": design}, rng.uniform(0.4, 0.9))


def _knee_prosthesis(layers, rng: np.random.Generator, width: float, plateau: float, s: float, lateral: float) -> str:
    dense, mu = layers.dense, layers.mu
    metal = mu("cobalt_chrome")
    design = str(rng.choice(["cruciate_retaining", "posterior_stabilised", "revision_stems"], p=[0.5, 0.35, 0.15]))
    # the femoral component wraps both condyles (anterior flange and runners overlap): a broad block with a
    # flat distal edge, rounded corners and the notch between the condyles
    w, notch = width * 1.02, (9 if design == "cruciate_retaining" else 12) * s
    outline = [(-w, 42 * s), (-w, 10 * s), (-w + 6 * s, 2 * s), (-w + 14 * s, 0.0), (-notch - 4 * s, 0.0),
               (-notch, 7 * s), (notch, 7 * s), (notch + 4 * s, 0.0), (w - 14 * s, 0.0), (w - 6 * s, 2 * s),
               (w, 10 * s), (w, 42 * s), (w * 0.55, 58 * s), (-w * 0.55, 58 * s)]
    plate(dense, outline, 10 * s, metal)
    if design != "cruciate_retaining":  # the box between the condyles
        plate(dense, [(-notch, 7 * s), (notch, 7 * s), (notch, 32 * s), (-notch, 32 * s)], 8 * s, metal)
    tray = mu("titanium") if rng.random() < 0.5 else metal
    plate(dense, [(-width, plateau - 1 * s), (width, plateau - 1 * s), (width * 0.95, plateau - 5 * s),
                  (-width * 0.95, plateau - 5 * s)], 60 * s, tray)
    plate(dense, [(-width, plateau - 5 * s), (width, plateau - 5 * s), (width * 0.95, plateau - 8 * s),
                  (-width * 0.95, plateau - 8 * s)], 50 * s, mu("cement"))
    tube(dense, (0, plateau - 5 * s), (0, plateau - 45 * s), 9 * s, 5 * s, tray)  # keel
    if design == "revision_stems":
        tube(dense, (0, plateau - 40 * s), (0, plateau - 150 * s), 7 * s, 6 * s, mu("titanium"))
        tube(dense, (0, 30 * s), (0, 150 * s), 7 * s, 6 * s, mu("titanium"))
    return design


def draw_lateral_hip(rng: np.random.Generator, spacing_mm: Optional[float]) -> DrawnCase:
    """Cross-table lateral: the femur runs across the film from the head; the shell opens forwards."""
    magnification = float(rng.uniform(1.1, 1.25))
    k = magnification
    size = float(rng.uniform(0.85, 1.15))
    s = size * k
    prosthesis = rng.random() < 0.5
    flip = 1.0 if rng.random() < 0.5 else -1.0  # which end of the film the head lies at
    anteversion = math.radians(rng.uniform(5, 25))
    setup = setup_film(rng, spacing_mm, (rng.uniform(240, 330), rng.uniform(200, 260)), magnification,
                       (flip * 70 * s, rng.uniform(-20, 10) * s), max_rotation=15.0)
    layers = setup.layers
    _leg_soft_tissue(setup, rng, size * 1.3, k, horizontal=True)
    trab, cort = layers.mu("trabecular"), layers.mu("cortical")
    head_r = rng.uniform(21, 26) * s
    neck = flip * np.array([math.cos(anteversion), math.sin(anteversion)])
    junction = neck * 50 * s
    shaft_end = junction + flip * np.array([300 * s, -8 * s])
    cortex = rng.uniform(1.2, 2.0) * s
    with layers.one_bone():  # the femur
        bone = layers.bone
        tube(bone, junction, shaft_end, 16 * s, 14 * s, trab, cortex=rng.uniform(4, 6) * s, cortex_mu=cort, caps=(True, False))
        tube(bone, (0, 0) if not prosthesis else neck * 25 * s, junction, head_r * 0.65, 18 * s, trab, cortex=cortex, cortex_mu=cort)
        ellipsoid(bone, junction + flip * np.array([10 * s, 4 * s]), (22 * s, 15 * s), 20 * s, trab)  # greater trochanter
        if not prosthesis:
            ellipsoid(bone, (0, 0), (head_r, head_r), head_r, trab, cortex=cortex, cortex_mu=cort)
    ellipsoid(layers.bone, junction + flip * np.array([25 * s, -18 * s]), (10 * s, 6 * s), 10 * s, trab)  # lesser trochanter
    with layers.one_bone():  # acetabulum, ischium behind, pubis in front
        bone = layers.bone
        start, end = (60.0, 300.0) if flip > 0 else (-120.0, 120.0)
        arc_band(bone, (0, 0), (head_r + 3 * s, head_r + 3 * s), 6 * s, start, end, cort)
        tube(bone, flip * np.array([-15 * s, -20 * s]), flip * np.array([-40 * s, -85 * s]), 14 * s, 11 * s, trab,
             cortex=cortex, cortex_mu=cort)
        tube(bone, flip * np.array([-15 * s, 20 * s]), flip * np.array([-70 * s, 45 * s]), 10 * s, 8 * s, trab,
             cortex=cortex, cortex_mu=cort)
    if prosthesis:
        dense, mu = layers.dense, layers.mu
        cup_r = rng.uniform(22, 30) * s
        opening = np.array([flip * math.cos(anteversion + 0.5), math.sin(anteversion + 0.5), 0.1])
        shell = "titanium" if rng.random() < 0.7 else "cobalt_chrome"
        hemishell(dense, (0, 0), cup_r, cup_r - 3.5 * s, opening / np.linalg.norm(opening), mu(shell))
        ellipsoid(dense, (0, 0), (14 * s, 14 * s), 14 * s, mu("cobalt_chrome"))
        tube(dense, (0, 0), junction, 6.5 * s, 7 * s, mu("titanium"))
        stem = mu("titanium") if rng.random() < 0.7 else mu("cobalt_chrome")
        tube(dense, junction, junction + flip * np.array([rng.uniform(100, 150) * s, -6 * s]), 9 * s, 5 * s, stem, depth_scale=1.6)
    return drawn(setup, rng, "lateral_hip", {"hip_prosthesis": bool(prosthesis), "head_on_left": flip < 0},
                       rng.uniform(0.4, 0.9))
