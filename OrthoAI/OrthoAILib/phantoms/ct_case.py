"""A whole CT phantom case: skeleton, soft tissue, inserted fractures with true boxes, metal
streaks, blur and noise, on a chosen grid. Deterministic from the seed.

The grid is the canonical CT frame (``ct_skeleton``): columns towards the patient's left, rows
posterior, slices superior; ``geometry`` maps it to RAS. Boxes are given in RAS mm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry import ImageGeometry
from .ct_body import bone_intensity, occupancy, soft_tissue
from .ct_lesions import BoneState, TrueLesion, choose_lesions, insert_lesion, lesion_box
from .ct_skeleton import build_skeleton, render_bones

CT_DIRECTIONS = ((-1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, 1.0))  # columns: I left, J posterior, K superior
METAL_HU = 3000.0


@dataclass(frozen=True)
class CTCase:
    hu: np.ndarray  # int16 KJI
    labels: np.ndarray  # uint8 KJI, bone labels 1-18
    geometry: ImageGeometry
    lesions: tuple[TrueLesion, ...]  # boxes in the canonical frame (mm)
    seed: int

    def boxes_ras(self) -> list[dict]:
        out = []
        for lesion in self.lesions:
            low, high = to_ras(np.array(lesion.box_low_mm)), to_ras(np.array(lesion.box_high_mm))
            out.append({"class": lesion.cls, "bone": lesion.bone, "low_ras_mm": np.minimum(low, high).tolist(),
                        "high_ras_mm": np.maximum(low, high).tolist()})
        return out


def to_ras(points_mm: np.ndarray) -> np.ndarray:
    """Canonical frame (x left, y posterior, z superior) to RAS."""
    return np.asarray(points_mm, dtype=float) * np.array([-1.0, -1.0, 1.0])


def _streaks(hu: np.ndarray, metal: np.ndarray, axes_mm, rng) -> None:
    """Bright and dark streaks radiating from metal in each axial slice (beam hardening, photon starvation)."""
    xs, ys, _ = axes_mm
    amplitude = rng.uniform(250, 700)
    angles = rng.uniform(0, np.pi, 8)
    signs = rng.choice([-1.0, 1.0], 8)
    for k in np.flatnonzero(metal.reshape(len(metal), -1).max(1) > 0.5):
        found = np.argwhere(metal[k] > 0.5)
        cy, cx = ys[int(found[:, 0].mean())], xs[int(found[:, 1].mean())]
        dx, dy = xs[None, :] - cx, ys[:, None] - cy
        radius = np.sqrt(dx * dx + dy * dy)
        pattern = np.zeros(hu.shape[1:], dtype=np.float32)
        for angle, sign in zip(angles, signs):
            across = np.abs(dx * np.sin(angle) - dy * np.cos(angle))
            pattern += sign * np.exp(-across ** 2 / (2 * 1.5 ** 2))
        body = hu[k] > -500
        hu[k] += (amplitude * pattern * np.exp(-radius / 120.0) * body).astype(np.float32)


def make_ct_case(seed: int, spacing=(2.0, 2.0, 2.0), size_mm=(420.0, 380.0, 300.0), z_centre=None,
                 lesions: tuple[int, int] = (0, 5), noise: bool = True) -> CTCase:
    """One case. ``spacing`` and ``size_mm`` are (x, y, z); ``z_centre`` picks the body level
    (random over neck to thigh when None); the number of lesions is drawn from ``lesions``."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    skeleton = build_skeleton(rng)
    top = skeleton.landmarks["z_top"]
    if z_centre is None:
        z_centre = rng.uniform(-60 + size_mm[2] / 2 - 120, top - size_mm[2] / 2 + 60)
    centre = np.array([rng.uniform(-15, 15), rng.uniform(5, 35), z_centre])
    axes = tuple(centre[a] - size_mm[a] / 2 + spacing[a] * (0.5 + np.arange(int(round(size_mm[a] / spacing[a]))))
                 for a in range(3))
    mean_spacing = float(np.mean(spacing))
    distance, labels = render_bones(skeleton.primitives, axes, margin=2 * max(spacing))
    cartilage_distance, _ = render_bones(skeleton.cartilage, axes, margin=2 * max(spacing))
    tissue = soft_tissue(axes, skeleton, mean_spacing, rng)
    cartilage = occupancy(cartilage_distance, mean_spacing)
    tissue = tissue * (1 - cartilage) + rng.uniform(90, 180) * cartilage
    state = BoneState(occupancy(distance, mean_spacing), bone_intensity(distance, labels, mean_spacing, rng), labels,
                      np.zeros(distance.shape, np.float32), distance)

    def compose():
        image = tissue * (1 - state.occupancy) + state.bone_hu * state.occupancy
        return image * (1 - state.metal) + METAL_HU * state.metal

    present = dict(zip(*np.unique(labels[labels > 0], return_counts=True)))
    found = []
    sites = []
    for cls, bone in choose_lesions({int(k): int(v) for k, v in present.items()}, int(rng.integers(lesions[0], lesions[1] + 1)), rng):
        before = compose()
        site = None
        for _ in range(4):  # a site far from the others (boxes should not merge)
            trial_rng = np.random.default_rng(rng.integers(1 << 31))
            snapshot = (state.occupancy.copy(), state.bone_hu.copy(), state.labels.copy(), state.metal.copy())
            site = insert_lesion(state, axes, mean_spacing, cls, bone, trial_rng)
            if site is None or all(np.linalg.norm(site - other) > 45 for other in sites):
                break
            state.occupancy[...], state.bone_hu[...], state.labels[...], state.metal[...] = snapshot
            site = None
        if site is None:
            continue
        box = lesion_box(before, compose(), axes, site)
        if box is None:
            continue
        sites.append(site)
        found.append(TrueLesion(cls, bone, tuple(site), box[0], box[1]))
    image = compose()
    if state.metal.max() > 0.5:
        _streaks(image, state.metal, axes, rng)
    if noise:
        blur = np.array([rng.uniform(0.4, 0.8) * max(1.0, 1.5 / spacing[2]), rng.uniform(0.4, 0.7), rng.uniform(0.4, 0.7)])
        image = ndimage.gaussian_filter(image, blur)
        sigma = rng.uniform(8, 35)
        image += rng.standard_normal(image.shape).astype(np.float32) * sigma
    hu = np.clip(np.round(image), -1024, 3071).astype(np.int16)
    origin = to_ras(np.array([axes[0][0], axes[1][0], axes[2][0]]))
    geometry = ImageGeometry(tuple(float(s) for s in spacing), tuple(float(v) for v in origin), CT_DIRECTIONS)
    return CTCase(hu, state.labels, geometry, tuple(found), seed)
