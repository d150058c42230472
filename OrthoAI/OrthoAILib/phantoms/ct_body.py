"""Soft tissue and bone intensities of a CT phantom, in Hounsfield units.

The torso follows the skeleton's landmarks: skin and a fat layer of varied thickness, muscle, organs
with a mottled texture, lungs with vessels in the thorax, bowel gas in the abdomen, the aorta (with or
without contrast), arms beside the body or above the head, thighs below the pelvis, sometimes the
CT table. Bone is a cortical shell over a textured trabecular interior, with partial volume at its
surface from the signed distance (``ct_skeleton.render_bones``).
"""

from __future__ import annotations

import numpy as np

from .ct_skeleton import Primitive, Skeleton, render_bones

AIR, FAT, MUSCLE, LUNG = -1000.0, -100.0, 45.0, -850.0
# Cortical thickness (mm) per bone label: ribs and vertebrae thin, the femoral shaft thick.
CORTEX_MM = np.array([1.0, 1.2, 1.2, 1.0, 1.0, 1.2, 1.0, 1.6, 1.6, 3.0, 3.0, 1.2, 1.6, 1.6, 1.0, 1.0, 2.4, 2.4, 1.4])


def smooth_noise(shape, sigma_voxels: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian-filtered white noise scaled to unit standard deviation (made at a coarser grid when
    the features are large, for speed)."""
    from scipy import ndimage

    factor = max(1, int(sigma_voxels // 2))
    small = tuple(max(2, -(-n // factor)) for n in shape)
    field = ndimage.gaussian_filter(rng.standard_normal(small).astype(np.float32), sigma_voxels / factor, mode="wrap")
    if factor > 1:
        field = ndimage.zoom(field, [n / m for n, m in zip(shape, small)], order=1)[:shape[0], :shape[1], :shape[2]]
        field = np.pad(field, [(0, n - m) for n, m in zip(shape, field.shape)], mode="edge")
    return field / max(float(field.std()), 1e-6)


def occupancy(distance: np.ndarray, spacing: float) -> np.ndarray:
    """Fraction of a voxel inside the surface (partial volume) from a signed distance in mm."""
    return np.clip(0.5 - distance / spacing, 0.0, 1.0).astype(np.float32)


def _ellipse_inside(x, y, cx, cy, ax, ay) -> np.ndarray:
    return ((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2


def soft_tissue(axes_mm, skeleton: Skeleton, spacing: float, rng: np.random.Generator) -> np.ndarray:
    """HU of everything that is not bone (air outside the body)."""
    xs, ys, zs = axes_mm
    lm = skeleton.landmarks
    f, width = lm["f"], lm["width"]
    obesity = rng.uniform(-0.05, 0.3)
    fat_mm = rng.uniform(8, 35) * (1 + obesity)
    x = xs[None, :]
    y = ys[:, None]
    hu = np.full((len(zs), len(ys), len(xs)), AIR, dtype=np.float32)
    organ_texture = smooth_noise(hu.shape, 6.0 / spacing, rng) * rng.uniform(6, 14)
    lung_vessels = smooth_noise(hu.shape, 1.2 / spacing, rng)
    z_t = lm["z_t"]
    z_neck, z_top = lm["z_c7"], lm["z_top"]
    diaphragm = lm["diaphragm"]
    contrast = rng.random() < 0.5
    aorta_hu = rng.uniform(150, 320) if contrast else rng.uniform(35, 50)
    organ_hu = rng.uniform(35, 60)
    liver_hu = organ_hu + rng.uniform(5, 20)
    spine_y = np.interp(zs, lm["spine_z"], lm["spine_y"])
    for k, z in enumerate(zs):
        torso_a = (165 * width) * (1 + obesity) * np.interp(z, [-60, 0, 150, z_t[10], z_t[3], z_neck], [0.95, 1.05, 0.98, 1.0, 1.08, 0.55])
        torso_b = (118 * f) * (1 + obesity) * np.interp(z, [-60, 0, 150, z_t[10], z_neck], [0.9, 0.95, 1.0, 1.0, 0.6])
        cy = 12.0
        if z > z_top + 10:  # head
            r = _ellipse_inside(x, y, 0, 20 * f, 75 * f, 92 * f)
            inside = r < 1.0 - 0.2 * max(0.0, (z - z_top - 120) / 60)
            hu[k][inside] = MUSCLE
            continue
        if z > z_neck:
            inside = _ellipse_inside(x, y, 0, 25, 62 * f, 60 * f) < 1
            hu[k][inside] = MUSCLE + organ_texture[k][inside]
            hu[k][inside & (_ellipse_inside(x, y, 0, 25, 62 * f - 6, 60 * f - 6) > 1)] = FAT
            continue
        body = _ellipse_inside(x, y, 0, cy, torso_a, torso_b)
        if z < -40:  # buttocks give way to two thighs
            thigh = np.minimum(_ellipse_inside(x, y, 90 * width, 5, 85 * f, 85 * f), _ellipse_inside(x, y, -90 * width, 5, 85 * f, 85 * f))
            blend = np.clip((-40 - z) / 80, 0, 1)
            body = np.where(blend >= 1, thigh, np.minimum(thigh, body * (1 + 3 * blend)))
        inside = body < 1
        inner = body < ((1 - fat_mm / torso_a) ** 2 if z >= -40 else 0.75)
        slice_hu = hu[k]
        slice_hu[inside] = FAT
        slice_hu[inner] = MUSCLE + organ_texture[k][inner]
        if -40 < z < diaphragm:  # abdomen: organs, the liver on the right, bowel gas placed below
            organs = inner & (_ellipse_inside(x, y, 0, cy - 10, torso_a * 0.75, torso_b * 0.7) < 1)
            slice_hu[organs] = organ_hu + organ_texture[k][organs]
            liver = organs & (x < -10) & (z > diaphragm - 160)
            slice_hu[liver] = liver_hu + organ_texture[k][liver]
        if diaphragm - 20 < z < z_t[1] + 10:  # lungs inside the rib cage, around the mediastinum
            dome = np.clip((z - diaphragm) / 30, 0, 1)
            lung_a, lung_b = torso_a * 0.74, torso_b * 0.72
            cage = _ellipse_inside(x, y, 0, lm["chest_y"] + 5, lung_a, lung_b) < dome
            mediastinum = (np.abs(x) < 35 * f) | (_ellipse_inside(x, y, 25, -25, 60 * f, 55 * f) < 1) & (z < z_t[5])
            lung = cage & ~mediastinum & (y < spine_y[k] + 5 + 35 * np.abs(x) / lung_a)
            slice_hu[lung] = LUNG + 40 * lung_vessels[k][lung] + 250 * np.clip(lung_vessels[k][lung] - 2.2, 0, None)
        aorta = _ellipse_inside(x, y, 12, spine_y[k] - 38, 12 * f, 12 * f) < 1
        if z < z_t[4] and z > 60:
            slice_hu[aorta] = aorta_hu
    _bowel_gas(hu, axes_mm, lm, rng)
    _arms(hu, axes_mm, skeleton, fat_mm, rng)
    if rng.random() < 0.5:  # the CT table under the patient
        table_y = 118 * f * 1.2 + 20
        table = (np.abs(y - table_y - 0.002 * x ** 2) < 4) & (np.abs(x) < 230)
        hu[:, table] = rng.uniform(100, 300)
    return hu


def _bowel_gas(hu, axes_mm, lm, rng) -> None:
    xs, ys, zs = axes_mm
    for _ in range(int(rng.integers(4, 22))):
        centre = np.array([rng.uniform(-110, 110), rng.uniform(-80, 0), rng.uniform(10, lm["diaphragm"] - 30)])
        radius = rng.uniform(5, 22)
        k = (np.abs(zs - centre[2]) < radius)
        if not k.any():
            continue
        r2 = (xs[None, None, :] - centre[0]) ** 2 + (ys[None, :, None] - centre[1]) ** 2 + (zs[k, None, None] - centre[2]) ** 2
        gas = (r2 < radius ** 2) & (hu[k] > -200)
        hu[k] = np.where(gas, -950.0, hu[k])


def _arms(hu, axes_mm, skeleton: Skeleton, fat_mm: float, rng) -> None:
    """Soft tissue round the humeri and forearms (capsules about their bone axes)."""
    arm_bones = [p for p in skeleton.primitives if p.kind == "capsule" and p.label in (16, 17, 18) and p.a != p.b
                 and np.linalg.norm(np.subtract(p.a, p.b)) > 100]
    if not arm_bones:
        return
    spacing = float(np.mean([axis[1] - axis[0] for axis in axes_mm]))
    outer = [Primitive("capsule", p.a, p.b, 42.0 + fat_mm * 0.4, 36.0 + fat_mm * 0.4) for p in arm_bones]
    distance, _ = render_bones(outer, axes_mm, margin=spacing)
    inner = distance < -(4 + fat_mm * 0.4)
    limb = (distance < 0) & (hu < -500)
    hu[limb] = FAT
    hu[inner & (hu < 0)] = MUSCLE


def bone_intensity(distance: np.ndarray, labels: np.ndarray, spacing: float, rng: np.random.Generator) -> np.ndarray:
    """HU inside bone: cortex (per-bone thickness) over trabecular bone with texture."""
    osteoporotic = rng.random() < 0.25
    cortex_hu = rng.uniform(550, 900) if osteoporotic else rng.uniform(900, 1500)
    trabecular_hu = rng.uniform(60, 160) if osteoporotic else rng.uniform(150, 330)
    texture = smooth_noise(distance.shape, 0.8 / spacing, rng) * rng.uniform(30, 80)
    depth = -distance
    thickness = CORTEX_MM[np.minimum(labels, len(CORTEX_MM) - 1)]
    weight = 1.0 / (1.0 + np.exp((depth - thickness) / max(0.35 * spacing, 0.3)))
    return (trabecular_hu + texture + (cortex_hu - trabecular_hu) * weight).astype(np.float32)
