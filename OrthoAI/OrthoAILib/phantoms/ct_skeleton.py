"""A procedural torso skeleton for CT phantoms: bones as solid primitives with their labels.

Every bone of the fracture pipeline's label set (``pipelines.fracture.bones``) is built from a few
primitives (tapered capsules, flat-ended cylinders, thin ellipsoid plates, spherical shells) placed
from a random body size, spine curvature and arm position, all deterministic from the generator.
The frame is the canonical CT frame in mm: x towards the patient's left, y posterior, z superior,
z = 0 at the hip joints' centres.

:func:`render_bones` turns the primitives into a signed distance (negative inside bone) and a label
per voxel on any grid; the soft occupancy ``clip(0.5 - d/s, 0, 1)`` gives partial volume without
supersampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..pipelines.fracture.bones import OTHER_BONE

RIB = {1: 1, -1: 2}  # side (+1 left, -1 right) -> label
HIP = {1: 7, -1: 8}
FEMUR = {1: 9, -1: 10}
CLAVICLE = {1: 12, -1: 13}
SCAPULA = {1: 14, -1: 15}
HUMERUS = {1: 16, -1: 17}
CERVICAL, THORACIC, LUMBAR, SACRUM, STERNUM = 3, 4, 5, 6, 11


@dataclass(frozen=True)
class Primitive:
    kind: str  # "capsule" (tapered), "cylinder" (flat ends), "ellipsoid", "shell"
    a: tuple  # capsule/cylinder: start; ellipsoid/shell: centre
    b: tuple  # capsule/cylinder: end; ellipsoid: semi-axes; shell: (outer, inner, cut) radii
    r0: float = 0.0
    r1: float = 0.0
    label: int = 0
    axes: tuple = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))  # ellipsoid rows: its axes in the frame
    cut: tuple = ()  # shell: keep only where dot(p - centre, cut) > 0


@dataclass(frozen=True)
class Skeleton:
    primitives: tuple[Primitive, ...]
    cartilage: tuple[Primitive, ...]  # costal cartilage (not bone; drawn as soft tissue)
    landmarks: dict  # z levels and body sizes the soft tissue follows


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


def _plate_axes(normal, up=(0.0, 0.0, 1.0)) -> tuple:
    """Rows: in-plane horizontal axis, the plate's normal (thin axis), in-plane vertical axis."""
    n = _unit(normal)
    vertical = _unit(np.asarray(up) - np.dot(up, n) * n)
    horizontal = np.cross(n, vertical)
    return (tuple(horizontal), tuple(n), tuple(vertical))


def _polyline(points, radii, label) -> list[Primitive]:
    return [Primitive("capsule", tuple(points[i]), tuple(points[i + 1]), radii[i], radii[i + 1], label)
            for i in range(len(points) - 1)]


def build_skeleton(rng: np.random.Generator) -> Skeleton:
    """One random adult torso skeleton from the neck to mid-thigh."""
    f = rng.uniform(0.88, 1.12)  # body size
    width = f * rng.uniform(0.92, 1.08)
    kyphosis = rng.uniform(10, 30)
    lordosis = rng.uniform(8, 25)
    arms_up = bool(rng.random() < 0.4)
    prims: list[Primitive] = []
    cartilage: list[Primitive] = []

    # Spine: vertebral centres from the sacral promontory upwards.
    # bottom to top: L5..L1, T12..T1, C7..C1
    heights = [38.0 * f] * 5 + list(np.linspace(30.0, 22.0, 12) * f) + [18.0 * f] * 7
    labels = [LUMBAR] * 5 + [THORACIC] * 12 + [CERVICAL] * 7
    radii = list(np.linspace(25.0, 22.0, 5) * width) + list(np.linspace(20.0, 13.0, 12) * width) + [10.0 * width] * 7
    z = 95.0 * f
    centres = []
    for height in heights:
        centres.append(z + height / 2)
        z += height
    z_top = z
    centres = np.array(centres)
    z_t = {k + 1: centres[5 + 11 - k] for k in range(12)}  # thoracic level k (T1 top .. T12 bottom)
    z_c7 = centres[17]

    def spine_y(zz):
        # lumbar lordosis (anterior bulge), thoracic kyphosis (posterior), around y = 40 mm
        lum = -lordosis * np.exp(-((zz - 190 * f) / (90 * f)) ** 2)
        tho = kyphosis * np.exp(-((zz - 420 * f) / (130 * f)) ** 2)
        return 40.0 * width + lum + tho

    for centre, height, label, radius in zip(centres, heights, labels, radii):
        y = spine_y(centre)
        body_h = height * 0.78
        prims.append(Primitive("cylinder", (0.0, y, centre - body_h / 2), (0.0, y, centre + body_h / 2), radius, radius, label))
        canal = radius * 0.55 + 6
        back = y + radius + canal  # posterior arch
        arch = [(side * (canal * 0.9), y + radius * 0.8, centre) for side in (1, -1)]
        for point in arch:
            prims.append(Primitive("capsule", point, (0.0, back, centre), 3.5 * width, 3.5 * width, label))
        spinous_len = (30 if label != CERVICAL else 18) * f
        prims.append(Primitive("capsule", (0.0, back, centre), (0.0, back + spinous_len, centre - spinous_len * 0.6), 4.5, 3.5, label))
        transverse = (28 if label == LUMBAR else 22 if label == THORACIC else 14) * width
        for side in (1, -1):
            prims.append(Primitive("capsule", (side * canal * 0.8, y + radius * 0.9, centre),
                                   (side * (canal + transverse), back - 4, centre + 2), 4.0, 3.5, label))

    # Sacrum: a wedge tilted forward at the top, its wings (alae) reaching the iliac bones.
    promontory = np.array([0.0, spine_y(95 * f) - 5, 95.0 * f])
    tilt = np.deg2rad(rng.uniform(30, 50))
    down = np.array([0.0, np.sin(tilt), -np.cos(tilt)])
    sacrum_axes = _plate_axes((0.0, np.cos(tilt), np.sin(tilt)), up=-down)
    prims.append(Primitive("ellipsoid", tuple(promontory + 45 * f * down), (46.0 * width, 16.0 * f, 52.0 * f), label=SACRUM, axes=sacrum_axes))
    prims.append(Primitive("capsule", tuple(promontory + 95 * f * down), tuple(promontory + 125 * f * down), 10.0, 5.0, SACRUM))

    hip_x = 95.0 * width
    for side in (1, -1):
        c = np.array([side * hip_x, 0.0, 0.0])
        # Os coxae: acetabulum (a half shell open laterally), ilium body and wing, pubic and ischial rami.
        prims.append(Primitive("shell", tuple(c), (34.0 * f, 25.5 * f, 0.0), label=HIP[side], cut=(-side * 1.0, 0.1, 0.25)))
        wing = c + np.array([-side * 12 * width, 28 * f, 85 * f])
        prims.append(Primitive("capsule", tuple(c + np.array([-side * 8, 8, 25 * f])), tuple(wing - np.array([0, 0, 30 * f])), 15.0 * f, 12.0 * f, HIP[side]))
        prims.append(Primitive("ellipsoid", tuple(wing), (62.0 * width, 6.0, 48.0 * f), label=HIP[side],
                               axes=_plate_axes((side * 0.75, -0.66, 0.0))))
        si = np.array([side * 38 * width, spine_y(80 * f) + 10, 75 * f])
        prims.append(Primitive("capsule", tuple(wing + np.array([-side * 20, 20, -10])), tuple(si), 12.0, 12.0, HIP[side]))
        symphysis = np.array([side * 6.0, -55.0 * f, -25.0 * f])
        pubis_root = c + np.array([-side * 18, -24 * f, -2])
        prims += _polyline([pubis_root, (pubis_root + symphysis) / 2 + np.array([0, -3, 4]), symphysis], [11.0, 9.0, 9.0], HIP[side])
        tuber = c + np.array([-side * 38 * width, 22 * f, -62 * f])
        prims += _polyline([c + np.array([-side * 6, 20 * f, -22 * f]), tuber], [14.0, 13.0], HIP[side])
        prims += _polyline([tuber, symphysis + np.array([side * 10, 6, -12])], [8.0, 7.0], HIP[side])

        # Femur: head, neck, greater trochanter, shaft towards the knee.
        prims.append(Primitive("capsule", tuple(c), tuple(c), 23.0 * f, 23.0 * f, FEMUR[side]))
        neck_end = c + np.array([side * 45 * width, 8, -38 * f])
        prims.append(Primitive("capsule", tuple(c), tuple(neck_end), 15.0 * f, 17.0 * f, FEMUR[side]))
        prims.append(Primitive("capsule", tuple(neck_end + np.array([side * 10, 5, 5])), tuple(neck_end + np.array([side * 10, 8, -15])), 17.0 * f, 15.0, FEMUR[side]))
        knee = np.array([side * 60 * width, -5.0, -430.0 * f])
        prims += _polyline([neck_end + np.array([0, 4, -15]), neck_end + (knee - neck_end) * 0.5 + np.array([0, -6, 0]), knee],
                           [16.0 * f, 13.5 * f, 15.0 * f], FEMUR[side])

    # Thorax: ribs around an elliptic chest, the sternum in front, costal cartilage between.
    chest_y = 5.0 * f
    sternum_top = np.array([0.0, chest_y - 88 * f, z_t[2] + 10 * f])
    sternum_low = np.array([0.0, chest_y - 105 * f, z_t[9]])
    prims.append(Primitive("ellipsoid", tuple((sternum_top + sternum_low) / 2),
                           (17.0 * width, 6.5, np.linalg.norm(sternum_top - sternum_low) / 2 + 8),
                           label=STERNUM, axes=_plate_axes((0.0, -1.0, 0.0), up=sternum_top - sternum_low)))
    for k in range(1, 13):
        size = np.interp(k, [1, 3, 7, 10, 12], [0.42, 0.75, 1.0, 0.97, 0.85])
        a_x = 138.0 * width * size + 12
        b_y = 98.0 * f * min(1.0, size + 0.15)
        end = np.deg2rad(np.interp(k, [1, 7, 10, 11, 12], [168, 160, 140, 105, 85]))
        drop = np.interp(k, [1, 6, 12], [35, 70, 45]) * f
        z0 = z_t[k]
        for side in (1, -1):
            phi = np.linspace(np.deg2rad(18), end, 18)
            x = side * (18 * width + (a_x - 18 * width) * np.sin(phi) ** 0.85)
            y = chest_y + b_y * np.cos(phi) + (spine_y(z0) - chest_y - b_y * np.cos(phi[0])) * np.exp(-3 * (phi - phi[0]))
            zz = z0 - drop * (1 - np.cos((phi - phi[0]) * 0.8)) / (1 - np.cos((end - phi[0]) * 0.8))
            points = np.stack([x, y, zz], 1)
            radius = 5.0 * f if k > 1 else 6.0 * f
            prims += _polyline(points, [radius] * len(points), RIB[side])
            if k <= 10:  # costal cartilage to the sternum
                target = sternum_top + (sternum_low - sternum_top) * min(1.0, (k - 1) / 6.0) + np.array([side * 14, 0, 0])
                cartilage += _polyline([points[-1], (points[-1] + target) / 2 + np.array([0, -8, 0]), target], [4.5, 4.5, 4.0], 0)

    # Shoulder girdle and arms.
    shoulder_z = z_t[1] - 15 * f
    for side in (1, -1):
        glenoid_c = np.array([side * 150 * width, 22.0 * f, shoulder_z])
        head = glenoid_c + np.array([side * 24 * f, 2, 0])
        clavicle_lateral = np.array([side * 150 * width, 25 * f, z_t[1] + 18 * f])
        clavicle_medial = sternum_top + np.array([side * 22, 8, 2])
        prims += _polyline([clavicle_medial, clavicle_medial + (clavicle_lateral - clavicle_medial) * 0.45 + np.array([0, -18, 6]),
                            clavicle_lateral], [7.5, 6.5, 7.0], CLAVICLE[side])
        back = spine_y(z_t[4]) + 20
        blade = np.array([side * 92 * width, back + 8, z_t[4] - 10 * f])
        prims.append(Primitive("ellipsoid", tuple(blade), (42.0 * width, 4.5, 70.0 * f), label=SCAPULA[side],
                               axes=_plate_axes((side * 0.42, 0.91, 0.0))))
        prims.append(Primitive("capsule", tuple(glenoid_c - np.array([side * 10, -8, 0])), tuple(glenoid_c - np.array([side * 4, -6, 0])), 13.0, 14.0, SCAPULA[side]))
        prims += _polyline([glenoid_c + np.array([-side * 5, 14, 12]), blade + np.array([-side * 30, 10, 40 * f])], [6.5, 4.5], SCAPULA[side])
        prims += _polyline([glenoid_c + np.array([-side * 5, 14, 12]), clavicle_lateral + np.array([0, 8, -4])], [6.0, 7.0], SCAPULA[side])
        prims.append(Primitive("capsule", tuple(head), tuple(head), 23.0 * f, 23.0 * f, HUMERUS[side]))
        if arms_up:
            elbow = head + np.array([side * 25, 10, 290 * f])
            wrist = elbow + np.array([-side * 60, -30, 200 * f])
        else:
            elbow = head + np.array([side * 28, 15, -290 * f])
            wrist = elbow + np.array([-side * 20, -rng.uniform(60, 200), -rng.uniform(50, 200) * f])
        prims += _polyline([head + np.array([side * 6, 0, -10 if not arms_up else 10]), elbow], [12.0 * f, 11.0 * f], HUMERUS[side])
        for offset in (-9, 9):  # radius and ulna
            prims += _polyline([elbow + np.array([offset, 0, 0]), wrist + np.array([offset * 1.5, 0, 0])], [7.0, 6.0], OTHER_BONE)
        hand = wrist + (wrist - elbow) / np.linalg.norm(wrist - elbow) * 40
        prims.append(Primitive("ellipsoid", tuple(hand), (24.0, 10.0, 40.0), label=OTHER_BONE, axes=_plate_axes((0, 1.0, 0), up=wrist - elbow)))

    # Skull base and mandible (other bone) above the neck.
    skull_c = np.array([0.0, 20.0 * f, z_top + 110 * f])
    prims.append(Primitive("shell", tuple(skull_c), (92.0 * f, 85.0 * f, 0.0), label=OTHER_BONE, cut=(0.0, 0.0, 1.0)))
    prims += _polyline([np.array([-50 * width, 10, z_top + 40]), np.array([0, -70 * f, z_top + 20]),
                        np.array([50 * width, 10, z_top + 40])], [8.0, 9.0, 8.0], OTHER_BONE)

    landmarks = {"f": f, "width": width, "z_top": z_top, "z_c7": z_c7, "z_t": z_t, "arms_up": arms_up,
                 "diaphragm": z_t[10], "hip_x": hip_x, "chest_y": chest_y, "spine_y": spine_y(np.array(centres)).tolist(),
                 "spine_z": centres.tolist(), "pelvis_top": 95 * f + 60 * f}
    return Skeleton(tuple(prims), tuple(cartilage), landmarks)


def _distance(prim: Primitive, x, y, z) -> np.ndarray:
    """Approximate signed distance (mm, negative inside) of broadcast grid points to a primitive."""
    if prim.kind in ("capsule", "cylinder"):
        a, b = np.asarray(prim.a), np.asarray(prim.b)
        ab = b - a
        length2 = float(ab @ ab)
        px, py, pz = x - a[0], y - a[1], z - a[2]
        t_raw = (px * ab[0] + py * ab[1] + pz * ab[2]) / max(length2, 1e-9)
        t = np.clip(t_raw, 0.0, 1.0)
        dx, dy, dz = px - t * ab[0], py - t * ab[1], pz - t * ab[2]
        radial = np.sqrt(dx * dx + dy * dy + dz * dz)
        radius = prim.r0 + t * (prim.r1 - prim.r0)
        if prim.kind == "capsule" or length2 < 1e-9:
            return radial - radius
        length = np.sqrt(length2)
        along = np.maximum(-t_raw, t_raw - 1.0) * length
        return np.maximum(radial - radius, along)
    centre = np.asarray(prim.a)
    px, py, pz = x - centre[0], y - centre[1], z - centre[2]
    if prim.kind == "ellipsoid":
        radii = np.asarray(prim.b)
        axes = np.asarray(prim.axes)
        q = [(px * axes[i, 0] + py * axes[i, 1] + pz * axes[i, 2]) / radii[i] for i in range(3)]
        k = np.sqrt(q[0] ** 2 + q[1] ** 2 + q[2] ** 2)
        return (k - 1.0) * radii.min()
    outer, inner, _ = prim.b
    r = np.sqrt(px * px + py * py + pz * pz)
    d = np.maximum(r - outer, inner - r)
    if prim.cut:
        cut = _unit(prim.cut)
        d = np.maximum(d, -(px * cut[0] + py * cut[1] + pz * cut[2]))
    return d


def _extent(prim: Primitive) -> tuple[np.ndarray, np.ndarray]:
    if prim.kind in ("capsule", "cylinder"):
        pad = max(prim.r0, prim.r1)
        points = np.array([prim.a, prim.b])
        return points.min(0) - pad, points.max(0) + pad
    pad = max(prim.b) if prim.kind == "ellipsoid" else prim.b[0]
    return np.asarray(prim.a) - pad, np.asarray(prim.a) + pad


def render_bones(primitives, axes_mm: tuple[np.ndarray, np.ndarray, np.ndarray], margin: float = 4.0):
    """Signed distance (float32, KJI; +margin outside everything) and label (uint8) of the union of
    the primitives on the grid whose voxel centres are ``axes_mm`` = (x along I, y along J, z along K)."""
    xs, ys, zs = axes_mm
    distance = np.full((len(zs), len(ys), len(xs)), margin, dtype=np.float32)
    labels = np.zeros(distance.shape, dtype=np.uint8)
    for prim in primitives:
        low, high = _extent(prim)
        ranges = []
        for values, lo, hi in zip((xs, ys, zs), low - margin, high + margin):
            first, last = np.searchsorted(values, lo), np.searchsorted(values, hi)
            ranges.append((first, last))
        if any(last <= first for first, last in ranges):
            continue
        (i0, i1), (j0, j1), (k0, k1) = ranges
        d = _distance(prim, xs[None, None, i0:i1], ys[None, j0:j1, None], zs[k0:k1, None, None]).astype(np.float32)
        region = distance[k0:k1, j0:j1, i0:i1]
        closer = d < region
        region[closer] = d[closer]
        if prim.label:
            labels[k0:k1, j0:j1, i0:i1][closer & (d < 0)] = prim.label
    return distance, labels
