"""Procedural knee label maps: bones, cartilage plates of known and varied thickness, menisci, fluid,
fat, muscle and skin, in a sagittal MR grid. The anatomy the cartilage networks learn from (the
images are synthesised from these maps with random contrasts, see ``knee_mr``).

Shapes are built in the knee's own frame (millimetres; *u* lateral, *v* anterior, *w* superior; the
origin at the lowest point of the femoral condyles) and placed in patient RAS by the knee's side
(right or left), a random pose and the flexion, then sampled on the grid. Cartilage is a shell grown
outward from its bone by a thickness field: a plate's base thickness times a smooth random variation,
with optional thinning (an osteoarthritic region) and focal defects (full or partial thickness). The
design thickness is returned, so a measured thickness can be checked against it.

Label values follow the real label maps of OAI-ZIB / pymskt for 1-10; 11-15 are this generator's.
Deterministic from the seed.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from ..geometry import ImageGeometry

LABELS = {
    1: "femoral cartilage", 2: "medial tibial cartilage", 3: "lateral tibial cartilage", 4: "patellar cartilage",
    5: "femur", 6: "tibia", 7: "patella", 8: "fibula", 9: "lateral meniscus", 10: "medial meniscus",
    11: "joint fluid", 12: "fat", 13: "muscle", 14: "skin", 15: "tendon",
}
CARTILAGE_VALUES = (1, 2, 3, 4)
BONE_VALUES = (5, 6, 7, 8)

# The OAI 3D-DESS grid: sagittal, slices run medial-lateral.
DESS_SHAPE_KJI = (160, 384, 384)
DESS_SPACING_IJK = (0.3646, 0.3646, 0.7)


@dataclass(frozen=True)
class KneeDesign:
    seed: int
    side: str  # "right" or "left"
    scale: float
    flexion_deg: float
    thickness_mm: dict  # plate -> base thickness
    thinning: dict  # plate -> (centre in knee frame, radius mm, factor) or None
    defects: dict  # plate -> list of (centre, radius mm, full thickness?)
    effusion: bool
    pose_deg: tuple[float, float, float]

    def to_json(self) -> dict:
        return {"seed": self.seed, "side": self.side, "scale": round(self.scale, 3),
                "flexion_deg": round(self.flexion_deg, 1), "pose_deg": [round(a, 1) for a in self.pose_deg],
                "base_thickness_mm": {k: round(v, 3) for k, v in self.thickness_mm.items()},
                "thinning": {k: v is not None for k, v in self.thinning.items()},
                "focal_defects": {k: len(v) for k, v in self.defects.items()}, "effusion": self.effusion}


@dataclass(frozen=True)
class KneePhantom:
    labelmap: np.ndarray  # uint8 KJI
    geometry: ImageGeometry
    design: KneeDesign


def sagittal_grid(shape_kji=DESS_SHAPE_KJI, spacing_ijk=DESS_SPACING_IJK) -> ImageGeometry:
    """A sagittal knee grid centred on the origin: columns run posterior, rows inferior, slices towards
    the patient's right (as the OAI DESS series, and the pipeline's canonical orientation)."""
    from ..pipelines.knee.preprocess import CANONICAL_DIRECTIONS

    matrix = np.array(CANONICAL_DIRECTIONS) * np.array(spacing_ijk)[None, :]
    origin = -matrix @ (np.array(shape_kji[::-1]) - 1) / 2
    return ImageGeometry(tuple(spacing_ijk), tuple(origin), CANONICAL_DIRECTIONS)


def _rotation(axis: int, degrees: float) -> np.ndarray:
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    i, j = [k for k in range(3) if k != axis]
    matrix = np.eye(3)
    matrix[i, i], matrix[i, j], matrix[j, i], matrix[j, j] = c, -s, s, c
    return matrix


def draw_design(seed: int) -> KneeDesign:
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.85, 1.15)
    thickness = {"femoral": rng.uniform(1.7, 2.7), "tibial_medial": rng.uniform(1.5, 2.5),
                 "tibial_lateral": rng.uniform(1.9, 3.1), "patellar": rng.uniform(2.0, 3.6)}
    thinning, defects = {}, {}
    for plate in thickness:
        thinning[plate] = None
        if rng.random() < 0.35:  # an osteoarthritic region: a third to two thirds of the thickness lost
            thinning[plate] = (rng.normal(0, 8, 3), rng.uniform(6, 14), rng.uniform(0.35, 0.7))
        defects[plate] = [(rng.normal(0, 8, 3), rng.uniform(1.5, 4.5), bool(rng.random() < 0.5))
                          for _ in range(rng.choice([0, 0, 1, 2]))]
    return KneeDesign(seed, str(rng.choice(["right", "left"])), float(scale), float(rng.uniform(0, 35)),
                      {k: float(v) for k, v in thickness.items()}, thinning, defects, bool(rng.random() < 0.4),
                      tuple(float(a) for a in rng.normal(0, 5, 3)))


class _Frame:
    """Knee-frame coordinates (u lateral, v anterior, w superior; mm) of every voxel of a grid."""

    def __init__(self, geometry: ImageGeometry, shape_kji, design: KneeDesign, centre_ras):
        k, j, i = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in shape_kji), indexing="ij", sparse=True)
        matrix = geometry.ijk_to_ras.astype(np.float32)
        ras = [matrix[r, 0] * i + matrix[r, 1] * j + matrix[r, 2] * k + matrix[r, 3] - centre_ras[r] for r in range(3)]
        # RAS -> knee frame: lateral is +x for a right knee, -x for a left one; then the pose.
        mirror = np.diag([1.0 if design.side == "right" else -1.0, 1.0, 1.0])
        pose = _rotation(0, design.pose_deg[0]) @ _rotation(1, design.pose_deg[1]) @ _rotation(2, design.pose_deg[2])
        to_knee = (pose.T @ mirror).astype(np.float32)
        self.u, self.v, self.w = (sum(to_knee[r, c] * ras[c] for c in range(3)) for r in range(3))

    def rotated_about_u(self, degrees: float, centre_vw) -> tuple:
        """Coordinates in a frame turned by ``degrees`` about the lateral axis through ``centre_vw``
        (the tibia's frame in flexion: the tibia swings posteriorly under the femur)."""
        a = np.radians(degrees)
        v, w = self.v - centre_vw[0], self.w - centre_vw[1]
        return (self.u, np.cos(a) * v - np.sin(a) * w + centre_vw[0], np.sin(a) * v + np.cos(a) * w + centre_vw[1])


def _ellipsoid(u, v, w, centre, radii) -> np.ndarray:
    return ((u - centre[0]) / radii[0]) ** 2 + ((v - centre[1]) / radii[1]) ** 2 + ((w - centre[2]) / radii[2]) ** 2 <= 1


def _smooth_variation(u, v, w, rng: np.random.Generator, amplitude: float = 0.18) -> np.ndarray:
    """A smooth random field of mean ~1 (a few plane waves of 25-60 mm wavelength)."""
    total = 0.0
    for _ in range(4):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        wavelength = rng.uniform(25, 60)
        phase = rng.uniform(0, 2 * np.pi)
        total = total + np.cos((direction[0] * u + direction[1] * v + direction[2] * w) * 2 * np.pi / wavelength + phase)
    return 1 + amplitude * total / 2


def _shell(bone: np.ndarray, region: np.ndarray, spacing_kji, thickness_at, max_mm: float = 7.0) -> dict:
    """Cartilage grown outward from ``bone`` inside ``region``: the voxels whose distance from the bone
    is at most the design thickness there. ``thickness_at(flat_indices)`` gives the thickness (mm).

    The distance map is computed on the region's bounding box only (with a margin wider than any
    cartilage), and the thickness only at candidate voxels, which keeps a 384×384×160 knee fast."""
    from scipy import ndimage

    found = np.argwhere(region)
    if found.size == 0:
        return {"flat": np.zeros(0, dtype=np.int64), "distance": np.zeros(0), "thickness": np.zeros(0)}
    margin = np.ceil(max_mm / np.asarray(spacing_kji)).astype(int) + 1
    low = np.maximum(found.min(0) - margin, 0)
    high = np.minimum(found.max(0) + margin + 1, region.shape)
    box = tuple(slice(a, b) for a, b in zip(low, high))
    distance = ndimage.distance_transform_edt(~bone[box], sampling=spacing_kji)
    candidate = (distance > 0) & (distance <= max_mm) & region[box]
    local = np.nonzero(candidate)
    distance = distance[local]
    flat = np.ravel_multi_index(tuple(c + o for c, o in zip(local, low)), region.shape)
    thickness = thickness_at(flat)
    keep = distance <= thickness
    return {"flat": flat[keep], "distance": distance[keep], "thickness": thickness[keep]}


def _thickness_field(plate: str, design: KneeDesign, u, v, w, anchor) -> np.ndarray:
    """The plate's design thickness (mm) at knee-frame points; ``anchor`` centres thinning."""
    rng = np.random.default_rng([design.seed, zlib.crc32(plate.encode())])
    t = design.thickness_mm[plate] * design.scale ** 0.5 * _smooth_variation(u, v, w, rng)
    thinning = design.thinning[plate]
    if thinning is not None:
        centre, radius, factor = thinning
        d2 = (u - anchor[0] - centre[0]) ** 2 + (v - anchor[1] - centre[1]) ** 2 + (w - anchor[2] - centre[2]) ** 2
        t = t * (1 - (1 - factor) * np.exp(-d2 / (2 * (radius / 2) ** 2)))
    return t.astype(np.float32)


def _superellipsoid(u, v, w, centre, radii, power_u: float = 2.0) -> np.ndarray:
    return (np.abs(u - centre[0]) / radii[0]) ** power_u + ((v - centre[1]) / radii[1]) ** 2 + \
        ((w - centre[2]) / radii[2]) ** 2 <= 1


def make_knee(seed: int, shape_kji=DESS_SHAPE_KJI, spacing_ijk=DESS_SPACING_IJK) -> KneePhantom:
    """A knee label map on a sagittal grid (the OAI DESS grid by default)."""
    from scipy import ndimage

    design = draw_design(seed)
    geometry = sagittal_grid(shape_kji, spacing_ijk)
    rng = np.random.default_rng(seed + 7919)
    s = design.scale
    spacing_kji = tuple(reversed(spacing_ijk))
    frame = _Frame(geometry, shape_kji, design, centre_ras=rng.normal(0, 4, 3) + np.array([0.0, 0.0, -8.0]))
    u, v, w = frame.u, frame.v, frame.w
    full = u.shape
    labels = np.zeros(full, dtype=np.uint8)

    # --- femur (its frame is the knee frame): two condyles, the trochlea, the metaphysis, the shaft ---
    radius = 21 * s
    condyle_u = 20 * s
    femur = np.zeros(full, dtype=bool)
    for sign in (-1, 1):  # boxy across (power 4): the condyles are flatter coronally than sagittally
        femur |= _superellipsoid(u, v, w, (sign * condyle_u, -4 * s, radius), (15 * s, 24 * s, radius), 4)
    femur &= ~((np.abs(u) < 6 * s) & (v < 6 * s) & (w < radius + 2 * s))  # the intercondylar notch
    femur |= _ellipsoid(u, v, w, (0, 7 * s, radius + 7 * s), (31 * s, 16 * s, 21 * s))
    femur &= ~_ellipsoid(u, v, w, (0, 25 * s, radius + 4 * s), (6 * s, 8 * s, 16 * s))  # trochlear groove
    femur |= _ellipsoid(u, v, w, (0, -2 * s, radius + 24 * s), (30 * s, 22 * s, 22 * s))
    femur |= (((u / (14 * s)) ** 2 + ((v + 2 * s) / (13 * s)) ** 2) <= 1) & (w > radius + 20 * s)

    # --- tibia and fibula: their frame turns about the condyles' centre with flexion (+ the slope) ---
    t_fem = design.thickness_mm["femoral"]
    t_tib = max(design.thickness_mm["tibial_medial"], design.thickness_mm["tibial_lateral"])
    joint = -(t_fem + t_tib) * s ** 0.5 - rng.uniform(0.2, 0.8)  # the plateau: both plates and a film of fluid
    tu, tv, tw = frame.rotated_about_u(design.flexion_deg + rng.uniform(5, 10), (-4 * s, radius))
    tibia = (((tu / (40 * s)) ** 2 + ((tv + 2 * s) / (27 * s)) ** 2) <= 1) & (tw <= joint) & (tw > joint - 32 * s)
    tibia |= (((tu / (17 * s)) ** 2 + ((tv + 4 * s) / (16 * s)) ** 2) <= 1) & (tw <= joint)
    for sign in (-1, 1):  # the tibial spines
        tibia |= _ellipsoid(tu, tv, tw, (sign * 5 * s, 0, joint), (3.5 * s, 7 * s, 6 * s))
    fibula = (((tu - 31 * s) / (7 * s)) ** 2 + ((tv + 16 * s) / (7 * s)) ** 2 <= 1) & (tw < joint - 14 * s)
    fibula |= _ellipsoid(tu, tv, tw, (31 * s, -16 * s, joint - 16 * s), (10 * s, 10 * s, 8 * s))
    fibula &= ~tibia

    # --- patella: on the trochlea, sliding down it as the knee flexes -------------------------------
    t_pat = design.thickness_mm["patellar"] * s ** 0.5
    angle = np.radians(design.flexion_deg * 0.6)
    towards = np.array([0.0, np.cos(angle), -np.sin(angle) * 0.8])
    patella_centre = np.array([0.0, 7 * s, radius + 7 * s]) + (16 * s + t_fem + t_pat + 9 * s + 0.5) * towards
    patella = _ellipsoid(u, v, w, patella_centre, (21 * s, 9 * s, 19 * s))

    # --- cartilage shells ----------------------------------------------------------------------
    def at(coords, plate, anchor):
        return lambda flat: _thickness_field(plate, design, *(c.ravel()[flat] for c in coords), anchor)

    condyles = (np.abs(np.abs(u) - condyle_u) < 11 * s) & (w < radius + 8 * s)
    trochlea = (v > 10 * s) & (np.abs(u) < 22 * s) & (w < radius + 24 * s)
    shells = {"femoral": _shell(femur, condyles | trochlea, spacing_kji, at((u, v, w), "femoral", (0, 0, 0)))}
    tibial_anchor = {}
    for plate, sign in (("tibial_medial", -1), ("tibial_lateral", 1)):
        footprint = ((((tu - sign * 21 * s) / (14 * s)) ** 2 + ((tv + 2 * s) / (21 * s)) ** 2) <= 1) & (tw > joint - 1)
        tibial_anchor[plate] = (sign * 21 * s, 0, joint)
        shells[plate] = _shell(tibia, footprint, spacing_kji, at((tu, tv, tw), plate, tibial_anchor[plate]))
    offset_u, offset_vw = u - patella_centre[0], (v - patella_centre[1]) * towards[1] + (w - patella_centre[2]) * towards[2]
    facing = (offset_vw < -2 * s) & (np.abs(offset_u) < 18 * s) & \
        (np.abs((w - patella_centre[2]) * towards[1] + (v - patella_centre[1]) * towards[2]) < 15 * s)
    shells["patellar"] = _shell(patella, facing, spacing_kji, at((u, v, w), "patellar", tuple(patella_centre)))

    frames = {"femoral": ((u, v, w), (0, 0, 0)), "tibial_medial": ((tu, tv, tw), tibial_anchor["tibial_medial"]),
              "tibial_lateral": ((tu, tv, tw), tibial_anchor["tibial_lateral"]),
              "patellar": ((u, v, w), tuple(patella_centre))}
    for plate, shell in shells.items():
        coords, anchor = frames[plate]
        keep = np.ones(shell["flat"].size, dtype=bool)
        cu, cv, cw = (c.ravel()[shell["flat"]] for c in coords)
        for centre, radius_d, full_depth in design.defects[plate]:
            near = (cu - anchor[0] - centre[0]) ** 2 + (cv - anchor[1] - centre[1]) ** 2 + \
                (cw - anchor[2] - centre[2]) ** 2 <= radius_d ** 2
            # full depth down to the bone, or the articular half only
            keep &= ~(near if full_depth else near & (shell["distance"] > 0.5 * shell["thickness"]))
        shells[plate] = {key: value[keep] for key, value in shell.items()}

    def mask_of(plate):
        mask = np.zeros(full, dtype=bool)
        mask.ravel()[shells[plate]["flat"]] = True
        return mask

    plates = {plate: mask_of(plate) for plate in shells}

    # --- paint, inner structures last so they win ------------------------------------------------
    leg = (u / (62 * s)) ** 2 + ((v + 4 * s) / (58 * s)) ** 2
    labels[leg <= 1] = 13  # muscle
    skin_depth = rng.uniform(1.5, 2.5) / (60 * s)
    fat_depth = rng.uniform(4, 12) / (60 * s)
    labels[(leg <= 1) & (np.sqrt(leg) > 1 - skin_depth - fat_depth)] = 12
    labels[(leg <= 1) & (np.sqrt(leg) > 1 - skin_depth)] = 14
    hoffa = _ellipsoid(u, v, w, (0, 22 * s, joint + 2 * s), (20 * s, 11 * s, 13 * s))
    labels[hoffa & (labels > 0)] = 12
    tendon = (np.abs(u) < 12 * s) & (np.abs(v - (patella_centre[1] + 6 * s)) < 3 * s) & \
        (w < patella_centre[2] - 15 * s) & (w > joint - 25 * s)
    labels[tendon & (labels > 0)] = 15
    cartilage_any = plates["femoral"] | plates["tibial_medial"] | plates["tibial_lateral"] | plates["patellar"]
    fluid_width = 2.5 if design.effusion else 1.0
    near_cartilage = ndimage.binary_dilation(cartilage_any, iterations=max(1, int(round(fluid_width / min(spacing_ijk)))))
    labels[near_cartilage & (labels > 0)] = 11
    if design.effusion:  # a suprapatellar pouch
        labels[_ellipsoid(u, v, w, (0, patella_centre[1] - 4 * s, patella_centre[2] + 22 * s), (24 * s, 4 * s, 18 * s))] = 11
    # menisci: wedge rings on each plateau's rim, open towards the notch
    for value, sign in ((10, -1), (9, 1)):
        du, dv = (tu - sign * 21 * s) / (14 * s), (tv + 2 * s) / (20 * s)
        rho = np.sqrt(du ** 2 + dv ** 2)
        height = 6 * s * np.clip((rho - 0.72) / 0.38, 0, 1)
        toward_notch = (-sign * du) / np.maximum(rho, 1e-6) > 0.8
        ring = (rho > 0.72) & (rho < 1.12) & (tw > joint) & (tw < joint + height) & ~toward_notch
        labels[ring & ~femur & ~plates["femoral"]] = value
    labels[femur] = 5
    labels[tibia] = 6
    labels[patella] = 7
    labels[fibula] = 8
    for value, plate in zip(CARTILAGE_VALUES, plates):
        labels[plates[plate] & (labels > 8) | plates[plate] & (labels == 0)] = value  # never over bone or a plate


    return KneePhantom(labels, geometry, design)
