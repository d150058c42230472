"""The proximal femur on an AP film: native (adult or child, with or without osteoarthritis) or resected for a stem.

Its pose is set by the neck–shaft angle, the femoral offset (head centre to the
shaft's axis) and the shaft's slant (distal end medial). A native head is a
sphere centred exactly on the hip centre keypoint; osteoarthritis narrows the
joint space (the roof comes down onto the head), thickens the sclerotic roof
and adds osteophytes and subchondral cysts without moving that centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .layers import FilmLayers
from .pelvis_anatomy import PelvisShape, draw_native_acetabulum, side_arc
from .radiograph_case import mirror
from .solids import ellipsoid, tube


@dataclass(frozen=True)
class FemurPose:
    side: str
    head_centre: np.ndarray  # film mm; the prosthetic head's centre for a stem
    head_radius: float
    shaft_axis: np.ndarray  # unit, downwards (distal end slightly medial)
    lateral: np.ndarray  # unit, perpendicular to the shaft, lateral
    neck_axis: np.ndarray  # unit, from the head towards the shaft
    junction: np.ndarray  # where the neck's axis meets the shaft's
    shaft_radius: float
    cortex: float

    @property
    def rotation(self) -> float:
        """Angle of ``lateral`` from the frame's X axis (rotation of ellipsoids elongated along the shaft)."""
        return math.atan2(self.lateral[1], self.lateral[0])

    def at(self, along: float, lateral: float = 0.0) -> np.ndarray:
        """A point ``along`` mm down the shaft's axis from the junction and ``lateral`` mm lateral of it."""
        return self.junction + along * self.shaft_axis + lateral * self.lateral


def femur_pose(rng: np.random.Generator, shape: PelvisShape, side: str, head_centre, head_radius: float,
               k: float) -> FemurPose:
    sign, s = mirror(side), shape.size * k
    neck_shaft = math.radians(rng.uniform(135, 150) if shape.child else rng.uniform(124, 138))
    slant = math.radians(rng.uniform(4, 9))
    shaft_axis = np.array([-sign * math.sin(slant), -math.cos(slant)])
    lateral = np.array([sign * math.cos(slant), -math.sin(slant)])
    bend = math.pi - neck_shaft
    neck_axis = math.cos(bend) * shaft_axis + math.sin(bend) * lateral
    offset = head_radius * rng.uniform(1.45, 1.7)
    junction = np.asarray(head_centre, dtype=float) + offset / math.sin(neck_shaft) * neck_axis
    cortex = (3.5 if shape.osteoporotic else rng.uniform(5, 7)) * s
    return FemurPose(side, np.asarray(head_centre, dtype=float), head_radius, shaft_axis, lateral, neck_axis,
                     junction, rng.uniform(14, 16) * s, cortex)


def draw_femur_body(layers: FilmLayers, shape: PelvisShape, pose: FemurPose, k: float, neck_from: float = 0.0) -> None:
    """Shaft, metaphysis, trochanters and the neck from ``neck_from`` (fraction of head→junction; 0 = whole neck)."""
    bone, s = layers.bone, shape.size * k
    trab, cort = layers.mu("trabecular", shape.trabecular), layers.mu("cortical")
    r = pose.shaft_radius
    # metaphysis: a funnel with a thin cortex, then the diaphysis with its thick one
    tube(bone, pose.at(-8 * s, 0.1 * r), pose.at(60 * s), r * 1.3, r, trab, cortex=(shape.cortex * k, pose.cortex),
         cortex_mu=cort, caps=(True, False))
    tube(bone, pose.at(59 * s), pose.at(400 * s), r, r * 0.88, trab, cortex=pose.cortex, cortex_mu=cort, caps=False)
    child = shape.child
    ellipsoid(bone, pose.at(-12 * s, r * 0.6), (r * 0.9, r * 1.5), 16 * s, trab, rotation=pose.rotation)  # greater trochanter
    if child:  # the greater trochanter's physis: a lucent line between apophysis and metaphysis
        tube(bone, pose.at(-6 * s, r * 0.4), pose.at(-10 * s, r * 1.8), 1.2 * s, 1.2 * s, -layers.mu("cortical"))
    ellipsoid(bone, pose.at(38 * s, -r - 1 * s), (5 * s, 10 * s), 8 * s, trab, rotation=pose.rotation,
              cortex=shape.cortex * k, cortex_mu=cort)  # lesser trochanter
    start = pose.head_centre + neck_from * (pose.junction - pose.head_centre)
    if child:  # the neck stops at the capital physis
        start = pose.head_centre + pose.neck_axis * pose.head_radius * 0.45
    tube(bone, start, pose.junction, pose.head_radius * 0.68, pose.head_radius * 0.9, trab,
         cortex=shape.cortex * k, cortex_mu=cort)


def draw_native_hip(layers: FilmLayers, rng: np.random.Generator, shape: PelvisShape, pose: FemurPose, k: float,
                    osteoarthritis: float = 0.0) -> dict:
    """A native head in its acetabulum; ``osteoarthritis`` 0 (none) … 1 (severe). Returns what was drawn."""
    sign, s = mirror(pose.side), shape.size * k
    trab, cort = layers.mu("trabecular", shape.trabecular), layers.mu("cortical")
    centre, radius = pose.head_centre, pose.head_radius
    with layers.one_bone():
        draw_femur_body(layers, shape, pose, k)
        if shape.child:
            return _child_head(layers, rng, shape, pose, k)
        ellipsoid(layers.bone, centre, (radius, radius), radius, trab, cortex=shape.cortex * k * 0.8, cortex_mu=cort)
    bone = layers.bone
    joint_space = rng.uniform(3.5, 5.0) * s * (1.0 - 0.85 * osteoarthritis)
    draw_native_acetabulum(layers, shape, centre, radius, joint_space, pose.side, k, sclerosis=1.0 + 1.5 * osteoarthritis)
    if osteoarthritis > 0:
        for angle_deg, size in ((rng.uniform(5, 20), rng.uniform(3, 7)), (rng.uniform(230, 260), rng.uniform(3, 8)),
                                (rng.uniform(-30, -10), rng.uniform(2, 5))):  # acetabular rim, inferomedial head, lateral neck
            frame_angle = math.radians(side_arc(pose.side, angle_deg, angle_deg)[0])
            where = centre + (radius + joint_space + 0.5 * size * s) * np.array([math.cos(frame_angle), math.sin(frame_angle)])
            ellipsoid(bone, where, (size * s * osteoarthritis, 0.6 * size * s * osteoarthritis), 8 * s,
                      layers.mu("cortical", 0.7), rotation=frame_angle)
        for _ in range(int(rng.integers(0, 3))):  # subchondral cysts in the roof
            where = centre + np.array([sign * rng.uniform(-0.5, 0.5), 1.0]) * (radius + joint_space + rng.uniform(3, 8) * s)
            ellipsoid(bone, where, (rng.uniform(2, 4) * s,) * 2, 4 * s, -layers.mu("trabecular", 2.0))
    return {"joint_space_mm": joint_space / k, "osteoarthritis": float(osteoarthritis)}


def _child_head(layers: FilmLayers, rng: np.random.Generator, shape: PelvisShape, pose: FemurPose, k: float) -> dict:
    """Cartilaginous head (radiolucent) with a small ossified epiphysis above a lucent physis; a shallow roof when dysplastic.

    Called while the femur is drawn as one bone: the roof and the triradiate cartilage belong to the
    pelvis and are drawn straight into the bone layer once the femur is done.
    """
    sign, s = mirror(pose.side), shape.size * k
    centre, radius = pose.head_centre, pose.head_radius
    ossified = min(0.95, 0.35 + 0.06 * shape.age)
    up = -pose.neck_axis  # from the physis towards the top of the head
    epiphysis = centre + up * radius * 0.05
    rotation = math.atan2(up[1], up[0]) + math.pi / 2
    ellipsoid(layers.bone, epiphysis, (radius * ossified, radius * ossified * 0.62), radius * ossified,
              layers.mu("trabecular", shape.trabecular), rotation=rotation, cortex=0.8 * s, cortex_mu=layers.mu("cortical", 0.8))
    pelvis = layers.bone.target if hasattr(layers.bone, "target") else layers.bone
    dysplastic = rng.random() < 0.25
    index_deg = rng.uniform(28, 40) if dysplastic else rng.uniform(12, 24)  # acetabular index
    # the roof: a sloped line from the triradiate cartilage up to the lateral acetabular edge
    medial = centre + np.array([-sign * radius * 0.95, radius * 0.35])
    lateral = medial + (2.0 * radius) * np.array([sign * math.cos(math.radians(index_deg)), math.sin(math.radians(index_deg))])
    tube(pelvis, medial, lateral, 1.6 * s, 1.6 * s, layers.mu("cortical"))
    # triradiate cartilage: a lucent Y at the acetabular floor
    hub = medial + np.array([-sign * 3 * s, -2 * s])
    for direction in ((-sign * 0.3, 1.0), (-sign * 0.4, -1.0), (sign * 1.0, -0.1)):
        tube(pelvis, hub, hub + np.array(direction) * radius * 0.7, 1.8 * s, 1.8 * s, -layers.mu("cortical", 1.5))
    return {"acetabular_index_deg": float(index_deg), "dysplastic": dysplastic, "ossified_fraction": float(ossified)}
