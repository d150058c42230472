"""Fractures and lesions inserted into a CT phantom's bone, each with its true box and class.

Works on the phantom before noise: the bone occupancy (partial volume), the bone HU, the bone labels
and a metal occupancy. Per class (the fracture pipeline's ``CLASSES``):

* fresh: a break along a plane across the bone (gap 1-3.5 mm), one side displaced 1-6 mm, sometimes
  comminuted (small free fragments in the gap);
* old: no gap; a callus collar round the bone and a sclerotic band along the healed line;
* post-operative: a fine fracture line under a plate with screws, or an intramedullary nail in a long
  bone (metal streaks are drawn later, on the whole slice);
* suspected: a hairline crack through part of the cortex, not displaced, partly filled;
* other: a lytic (bone replaced by soft tissue) or a sclerotic (dense) lesion.

The true box is where the inserted change alters the image by more than ``BOX_THRESHOLD_HU`` within
``SITE_RADIUS_MM`` of the site, so a box holds what can be seen, not a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..pipelines.fracture.classes import CLASSES

BOX_THRESHOLD_HU = 90.0
SITE_RADIUS_MM = 28.0
MIN_BOX_MM = 4.0
# How often each bone region is the site: ribs most (as in trauma CT), the rest in proportion.
SITE_WEIGHTS = {1: 3.0, 2: 3.0, 3: 0.5, 4: 1.0, 5: 1.0, 6: 0.6, 7: 1.0, 8: 1.0, 9: 0.8, 10: 0.8, 11: 0.5,
                12: 0.6, 13: 0.6, 14: 0.6, 15: 0.6, 16: 0.5, 17: 0.5, 18: 0.3}
CLASS_WEIGHTS = (0.28, 0.16, 0.14, 0.2, 0.22)
LONG_BONES = (9, 10, 16, 17)


@dataclass(frozen=True)
class TrueLesion:
    cls: str
    bone: int
    site_mm: tuple  # canonical frame (x left, y posterior, z superior)
    box_low_mm: tuple
    box_high_mm: tuple


@dataclass
class BoneState:
    """The parts of a phantom a lesion changes (all KJI on one grid)."""

    occupancy: np.ndarray
    bone_hu: np.ndarray
    labels: np.ndarray
    metal: np.ndarray
    distance: np.ndarray  # signed distance to the intact bone surface (mm)


def _local_frame(labels, axes_mm, site_index, bone, radius_mm=18.0):
    """Main axis of the bone near the site (PCA of its voxels) and the outward surface normal."""
    xs, ys, zs = axes_mm
    spacing = np.array([xs[1] - xs[0], ys[1] - ys[0], zs[1] - zs[0]])
    r = (radius_mm / spacing).astype(int) + 1
    k, j, i = site_index
    sub = labels[max(k - r[2], 0):k + r[2] + 1, max(j - r[1], 0):j + r[1] + 1, max(i - r[0], 0):i + r[0] + 1] == bone
    found = np.argwhere(sub)
    if len(found) < 10:
        return None
    points = np.stack([xs[found[:, 2] + max(i - r[0], 0)], ys[found[:, 1] + max(j - r[1], 0)], zs[found[:, 0] + max(k - r[2], 0)]], 1)
    centred = points - points.mean(0)
    _, values, vectors = np.linalg.svd(centred, full_matrices=False)
    return vectors[0], points.mean(0)


def _site_grid(axes_mm, site, radius):
    """Index slices of the box round ``site`` and the offsets (mm) of its voxels from it."""
    xs, ys, zs = axes_mm
    slices, offsets = [], []
    for values, centre in zip((xs, ys, zs), site):
        first, last = np.searchsorted(values, centre - radius), np.searchsorted(values, centre + radius)
        slices.append(slice(first, last))
        offsets.append(values[first:last] - centre)
    sl = (slices[2], slices[1], slices[0])
    qx, qy, qz = offsets[0][None, None, :], offsets[1][None, :, None], offsets[2][:, None, None]
    return sl, (qx, qy, qz)


def _soft(value, spacing):
    """1 where value < 0, 0 where > 0, a linear ramp one voxel wide (partial volume)."""
    return np.clip(0.5 - value / spacing, 0.0, 1.0)


def _random_unit(rng, around=None, spread_deg=180.0):
    v = rng.standard_normal(3)
    v /= np.linalg.norm(v)
    if around is None:
        return v
    around = around / np.linalg.norm(around)
    mix = np.sin(np.deg2rad(min(spread_deg, 90.0)))
    out = around + mix * v
    return out / np.linalg.norm(out)


def insert_lesion(state: BoneState, axes_mm, spacing: float, cls: str, bone: int, rng: np.random.Generator):
    """Insert one lesion of class ``cls`` on ``bone``; its site, or None when the bone is absent."""
    candidates = np.argwhere((state.labels == bone) & (state.distance > -2.5) & (state.distance < 0))
    if len(candidates) < 20:
        return None
    site_index = candidates[rng.integers(len(candidates))]
    frame = _local_frame(state.labels, axes_mm, site_index, bone)
    if frame is None:
        return None
    axis, local_centre = frame
    xs, ys, zs = axes_mm
    site = np.array([xs[site_index[2]], ys[site_index[1]], zs[site_index[0]]])
    sl, (qx, qy, qz) = _site_grid(axes_mm, site, SITE_RADIUS_MM + 8)
    occ, hu, lab, metal = (a[sl] for a in (state.occupancy, state.bone_hu, state.labels, state.metal))
    dist = state.distance[sl]
    radius2 = qx ** 2 + qy ** 2 + qz ** 2
    outward = site - local_centre
    outward = outward - np.dot(outward, axis) * axis
    outward = outward / max(np.linalg.norm(outward), 1e-6)
    if cls in ("fresh", "post-operative", "suspected"):
        normal = _random_unit(rng, axis, 25.0)
        along = qx * normal[0] + qy * normal[1] + qz * normal[2]
        depth_side = qx * outward[0] + qy * outward[1] + qz * outward[2]
        reach = rng.uniform(10, 20)
        if cls == "fresh":
            gap = rng.uniform(1.0, 3.5)
            ball = _soft(np.sqrt(radius2) - reach, spacing)
            occ *= 1 - _soft(np.abs(along) - gap / 2, spacing) * ball
            shift = _random_unit(rng) * rng.uniform(1.0, 6.0)
            side = _soft(gap / 2 - along, spacing) * _soft(np.sqrt(radius2) - SITE_RADIUS_MM * 0.8, 4 * spacing)
            _displace(occ, hu, lab, side, shift, spacing)
            if rng.random() < 0.3:
                _fragments(occ, hu, (qx, qy, qz), normal, gap, spacing, rng)
        elif cls == "post-operative":
            occ *= 1 - _soft(np.abs(along) - 0.6, spacing) * _soft(np.sqrt(radius2) - reach, spacing)
            _implant(metal, (qx, qy, qz), dist, axis, outward, bone, spacing, rng)
        else:  # suspected: a hairline through part of the cortex
            partial = _soft(-depth_side - rng.uniform(-2, 4), spacing)
            crack = _soft(np.abs(along) - rng.uniform(0.3, 0.7), spacing) * partial * _soft(np.sqrt(radius2) - reach * 0.7, spacing)
            occ *= 1 - rng.uniform(0.45, 0.8) * crack
    elif cls == "old":
        normal = _random_unit(rng, axis, 20.0)
        along = qx * normal[0] + qy * normal[1] + qz * normal[2]
        collar = rng.uniform(2.0, 6.0)
        extent = rng.uniform(6.0, 14.0)
        lumpy = 1 + 0.35 * np.sin(qx * 0.4 + rng.uniform(0, 6)) * np.cos(qz * 0.5 + qy * 0.3)
        callus = _soft(dist - collar * lumpy, spacing) * _soft(np.abs(along) - extent, 2 * spacing) * (dist > -1)
        callus_hu = rng.uniform(350, 800)
        hu[...] = np.where(callus > occ, callus_hu, hu)
        grow = callus > 0.5
        lab[grow] = bone
        np.maximum(occ, callus, out=occ)
        band = _soft(np.abs(along) - rng.uniform(1.0, 2.5), spacing) * (dist < 0)
        hu += band * rng.uniform(300, 650)
    else:  # other: lytic or sclerotic lesion inside the bone
        inward = rng.uniform(2.0, 7.0)
        centre = -outward * inward
        r = np.sqrt((qx - centre[0]) ** 2 + (qy - centre[1]) ** 2 + (qz - centre[2]) ** 2)
        size = rng.uniform(4.0, 11.0)
        lesion = _soft(r - size, spacing) * (dist < 0.5)
        if rng.random() < 0.6:
            occ *= 1 - lesion * rng.uniform(0.8, 1.0)
        else:
            hu += lesion * rng.uniform(500, 900)
    return site


def _displace(occ, hu, lab, weight, shift_mm, spacing) -> None:
    """Move the part of the bone under ``weight`` by ``shift_mm`` (a displaced fragment)."""
    from scipy import ndimage

    shift = np.array([shift_mm[2], shift_mm[1], shift_mm[0]]) / spacing
    moved_occ = ndimage.shift(occ * weight, shift, order=1, mode="constant")
    moved_hu = ndimage.shift(hu, shift, order=1, mode="nearest")
    moved_lab = ndimage.shift(lab * (weight > 0.5), shift, order=0, mode="constant")
    keep = occ * (1 - weight)
    total = np.maximum(keep, moved_occ)
    hu[...] = np.where(moved_occ > keep, moved_hu, hu)
    lab[...] = np.where((moved_lab > 0) & (moved_occ > 0.5), moved_lab, np.where(keep > 0.5, lab, np.where(moved_occ > 0.5, lab, 0)))
    occ[...] = total


def _fragments(occ, hu, q, normal, gap, spacing, rng) -> None:
    qx, qy, qz = q
    for _ in range(int(rng.integers(1, 4))):
        offset = _random_unit(rng) * rng.uniform(2, 8) + normal * rng.uniform(-gap, gap)
        r = np.sqrt((qx - offset[0]) ** 2 + (qy - offset[1]) ** 2 + (qz - offset[2]) ** 2)
        piece = _soft(r - rng.uniform(1.5, 3.5), spacing)
        hu[...] = np.where(piece > occ, rng.uniform(600, 1200), hu)
        np.maximum(occ, piece, out=occ)


def _segment_distance(q, a, b):
    qx, qy, qz = q
    ab = b - a
    t = np.clip(((qx - a[0]) * ab[0] + (qy - a[1]) * ab[1] + (qz - a[2]) * ab[2]) / max(float(ab @ ab), 1e-9), 0, 1)
    return np.sqrt((qx - a[0] - t * ab[0]) ** 2 + (qy - a[1] - t * ab[1]) ** 2 + (qz - a[2] - t * ab[2]) ** 2)


def _implant(metal, q, dist, axis, outward, bone, spacing, rng) -> None:
    """A plate with screws on the bone surface, or a nail inside a long bone."""
    if bone in LONG_BONES and rng.random() < 0.5:
        inside = -outward * rng.uniform(6, 10)
        length = rng.uniform(40, 70)
        nail = _soft(_segment_distance(q, inside - axis * length, inside + axis * length) - rng.uniform(3.5, 5.0), spacing)
        np.maximum(metal, nail, out=metal)
        return
    length = rng.uniform(18, 32)
    lift = 1.5
    across = np.cross(axis, outward)
    for offset in (-3.5, 0.0, 3.5):
        a = outward * lift + across * offset - axis * length
        b = outward * lift + across * offset + axis * length
        np.maximum(metal, _soft(_segment_distance(q, a, b) - 1.4, spacing), out=metal)
    for position in np.linspace(-length * 0.8, length * 0.8, int(rng.integers(2, 5))):
        head = outward * lift + axis * position
        tip = head - outward * rng.uniform(12, 24)
        np.maximum(metal, _soft(_segment_distance(q, head, tip) - 1.7, spacing), out=metal)


def lesion_box(before: np.ndarray, after: np.ndarray, axes_mm, site) -> tuple | None:
    """Bounding box (mm, canonical frame) of where the image changed, near the site."""
    sl, (qx, qy, qz) = _site_grid(axes_mm, site, SITE_RADIUS_MM)
    changed = (np.abs(after[sl] - before[sl]) > BOX_THRESHOLD_HU) & (qx ** 2 + qy ** 2 + qz ** 2 < SITE_RADIUS_MM ** 2)
    if changed.sum() < 3:
        return None
    found = np.argwhere(changed)
    xs, ys, zs = (axis[s] for axis, s in zip(axes_mm, (sl[2], sl[1], sl[0])))
    low = np.array([xs[found[:, 2].min()], ys[found[:, 1].min()], zs[found[:, 0].min()]])
    high = np.array([xs[found[:, 2].max()], ys[found[:, 1].max()], zs[found[:, 0].max()]])
    half = np.array([xs[1] - xs[0], ys[1] - ys[0], zs[1] - zs[0]]) / 2
    low, high = low - half, high + half
    pad = np.maximum(MIN_BOX_MM - (high - low), 0) / 2
    return tuple(low - pad), tuple(high + pad)


def choose_lesions(present_bones: dict, count: int, rng: np.random.Generator) -> list[tuple[str, int]]:
    """(class, bone) pairs for ``count`` lesions among the bones present (value -> voxel count)."""
    bones = [b for b, n in present_bones.items() if n > 50 and b in SITE_WEIGHTS]
    if not bones:
        return []
    weights = np.array([SITE_WEIGHTS[b] for b in bones])
    picks = []
    for _ in range(count):
        bone = int(rng.choice(bones, p=weights / weights.sum()))
        cls = str(rng.choice(CLASSES, p=np.array(CLASS_WEIGHTS) / sum(CLASS_WEIGHTS)))
        picks.append((cls, bone))
    return picks
