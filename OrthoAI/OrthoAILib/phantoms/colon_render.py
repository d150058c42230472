"""Colonoscopy frames rendered with known depth, to train the endoscopy depth network.

No real colonoscopy set has true depth, so the depth branch learns from renderings (and is checked
on SimCol3D's rendered frames with true depth). A scene is a bent tube with haustral folds and a
non-circular lumen, up to three polyps on its wall (sessile, flat or pedunculated), a pool of fluid
in its lower part, and a far end. The camera sits inside the lumen, off its axis and turned by up
to 40°, with its light source at the lens: a surface point is lit by ``albedo·cos(angle) / distance²``
(inverse-square fall-off) plus a sharp specular highlight. Mucosa has a procedural texture with
vessels; the frame gets exposure, gamma, blur, noise and sometimes the octagonal black border of a
real endoscope. Rays are sphere-traced against a signed distance (free space positive), so depth is
exact up to the tracing tolerance.

Depth is the z-distance along the optical axis in centimetres, as SimCol3D stores it. Everything is
deterministic from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FAR_CM = 25.0  # where the lumen's far end caps every scene


@dataclass(frozen=True)
class ColonFrame:
    rgb: np.ndarray        # H×W×3 float32 in [0, 1]
    depth_cm: np.ndarray   # H×W float32, z-depth in cm
    polyp: np.ndarray      # H×W bool, pixels that see a polyp
    valid: np.ndarray      # H×W bool, pixels inside the endoscope's field (not the black border)


@dataclass(frozen=True)
class _Polyp:
    centre: np.ndarray     # (3,) cm
    radii: np.ndarray      # (3,) ellipsoid semi-axes, cm
    stalk_from: np.ndarray  # (3,) cm, wall end of a pedunculated polyp's stalk
    stalk_radius: float    # 0 for sessile and flat polyps


@dataclass(frozen=True)
class _Scene:
    radius: float
    lobes: float
    lobe_phase: float
    fold_spacing: float
    fold_height: float
    fold_width: float
    fold_twist: float
    bend: np.ndarray        # (2,) quadratic bend of the centreline (x, y), 1/cm
    wiggle: np.ndarray      # (2, 3) amplitude, frequency, phase per axis
    far_end: float
    polyps: tuple[_Polyp, ...]
    fluid_level: float      # fluid where y (down) exceeds this on the wall; inf = dry


def _centreline(z: np.ndarray, s: _Scene) -> tuple[np.ndarray, np.ndarray]:
    x = s.bend[0] * z * z + s.wiggle[0, 0] * np.sin(s.wiggle[0, 1] * z + s.wiggle[0, 2])
    y = s.bend[1] * z * z + s.wiggle[1, 0] * np.sin(s.wiggle[1, 1] * z + s.wiggle[1, 2])
    return x, y


def _wall_radius(z: np.ndarray, theta: np.ndarray, s: _Scene) -> np.ndarray:
    phase = z / s.fold_spacing + s.fold_twist * np.sin(theta)
    ridge = np.exp(-((phase - np.floor(phase) - 0.5) / s.fold_width) ** 2)
    return s.radius * (1 + s.lobes * np.cos(3 * theta + s.lobe_phase)) * (1 - s.fold_height * ridge)


def _polyp_distance(p: np.ndarray, polyp: _Polyp) -> np.ndarray:
    q = (p - polyp.centre) / polyp.radii
    ellipsoid = (np.linalg.norm(q, axis=-1) - 1) * polyp.radii.min()  # a lower bound: safe for tracing
    if polyp.stalk_radius <= 0:
        return ellipsoid
    a, b = polyp.stalk_from, polyp.centre
    t = np.clip(((p - a) @ (b - a)) / float((b - a) @ (b - a)), 0, 1)
    stalk = np.linalg.norm(p - (a + t[..., None] * (b - a)), axis=-1) - polyp.stalk_radius
    return np.minimum(ellipsoid, stalk)


def _free_distance(p: np.ndarray, s: _Scene) -> tuple[np.ndarray, np.ndarray]:
    """Signed distance to the nearest surface (positive in the lumen) and whether a polyp is nearest."""
    cx, cy = _centreline(p[..., 2], s)
    dx, dy = p[..., 0] - cx, p[..., 1] - cy
    wall = _wall_radius(p[..., 2], np.arctan2(dy, dx), s) - np.hypot(dx, dy)
    wall = np.minimum(wall * 0.6, s.far_end - p[..., 2])  # 0.6: the folded wall is not an exact distance
    polyp = np.full_like(wall, np.inf)
    for item in s.polyps:
        polyp = np.minimum(polyp, _polyp_distance(p, item))
    return np.minimum(wall, polyp), polyp < wall


def _random_scene(rng: np.random.Generator) -> _Scene:
    radius = rng.uniform(1.6, 3.0)
    scene = _Scene(
        radius=radius, lobes=rng.uniform(0, 0.18), lobe_phase=rng.uniform(0, 2 * np.pi),
        fold_spacing=rng.uniform(1.5, 4.0), fold_height=rng.uniform(0.05, 0.4), fold_width=rng.uniform(0.06, 0.18),
        fold_twist=rng.uniform(-0.3, 0.3), bend=rng.uniform(-0.03, 0.03, 2),
        wiggle=np.stack([rng.uniform(0, 1.2, 2), rng.uniform(0.1, 0.5, 2), rng.uniform(0, 2 * np.pi, 2)], axis=1),
        far_end=rng.uniform(8, FAR_CM), polyps=(),
        fluid_level=rng.uniform(0.55, 0.9) * radius if rng.random() < 0.3 else np.inf)
    polyps = []
    for _ in range(rng.choice([0, 1, 1, 1, 2, 2, 3])):
        z = rng.uniform(1.5, min(scene.far_end - 1, 9.0))
        theta = rng.uniform(0, 2 * np.pi)
        normal = np.array([np.cos(theta), np.sin(theta), 0.0])
        cx, cy = _centreline(np.array(z), scene)
        wall = np.array([cx, cy, z]) + float(_wall_radius(np.array(z), np.array(theta), scene)) * normal
        size = rng.uniform(0.15, 1.1)
        kind = rng.choice(["sessile", "flat", "pedunculated"], p=[0.55, 0.25, 0.2])
        radii = size * rng.uniform(0.8, 1.25, 3)
        if kind == "flat":
            radii = radii * np.array([1.3, 1.3, 1.0])
            radii[np.argmax(np.abs(normal))] *= 0.35  # flattened against the wall
        depth_in = {"sessile": rng.uniform(0.2, 0.6), "flat": 0.3, "pedunculated": -1.3}[kind] * size
        centre = wall - (size - depth_in) * normal
        stalk = size * rng.uniform(0.25, 0.4) if kind == "pedunculated" else 0.0
        polyps.append(_Polyp(centre, radii, wall + 0.2 * normal, stalk))
    return _Scene(**{**scene.__dict__, "polyps": tuple(polyps)})


def _rotation(rng: np.random.Generator, max_degrees: float) -> np.ndarray:
    yaw, pitch = np.radians(rng.uniform(-max_degrees, max_degrees, 2))
    roll = rng.uniform(0, 2 * np.pi)
    cz, sz = np.cos(roll), np.sin(roll)
    cy, sy = np.cos(yaw), np.sin(yaw)
    cx, sx = np.cos(pitch), np.sin(pitch)
    return (np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]]) @ np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
            @ np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]]))


def _trace(origin: np.ndarray, directions: np.ndarray, s: _Scene, steps: int = 90) -> np.ndarray:
    t = np.full(directions.shape[0], 0.05)
    active = np.ones(directions.shape[0], bool)
    for _ in range(steps):
        if not active.any():
            break
        index = np.flatnonzero(active)
        distance, _ = _free_distance(origin + t[index, None] * directions[index], s)
        t[index] += np.maximum(distance, 0.002)
        active[index] = (distance > 0.003) & (t[index] < FAR_CM * 1.8)
    return t


def _normals(points: np.ndarray, s: _Scene, h: float = 0.01) -> np.ndarray:
    gradient = np.zeros_like(points)
    for axis in range(3):
        step = np.zeros(3)
        step[axis] = h
        gradient[:, axis] = _free_distance(points + step, s)[0] - _free_distance(points - step, s)[0]
    return gradient / np.maximum(np.linalg.norm(gradient, axis=1, keepdims=True), 1e-9)


def _wave_noise(points: np.ndarray, rng: np.random.Generator, waves: int, scale: float) -> np.ndarray:
    k = rng.normal(size=(waves, 3)) * scale
    return np.sin(points @ k.T + rng.uniform(0, 2 * np.pi, waves)).mean(axis=1) * np.sqrt(2.0)


def _octagon(size: int, rng: np.random.Generator) -> np.ndarray:
    r, c = np.mgrid[0:size, 0:size] / (size - 1) * 2 - 1
    cut = rng.uniform(1.25, 1.6)
    return (np.abs(r) + np.abs(c) <= cut) & (np.abs(r) <= rng.uniform(0.93, 1.0)) & (np.abs(c) <= rng.uniform(0.93, 1.0))


def render_colon(seed: int, size: int = 96, supersample: int = 2) -> ColonFrame:
    """A ``size``×``size`` frame rendered at ``supersample``× and box-reduced (anti-aliasing)."""
    rng = np.random.default_rng(seed)
    scene = _random_scene(rng)
    full = size * supersample
    half_fov = np.radians(rng.uniform(40, 60))
    v, u = (np.mgrid[0:full, 0:full] + 0.5) / full * 2 - 1
    directions = np.stack([u * np.tan(half_fov), v * np.tan(half_fov), np.ones_like(u)], -1).reshape(-1, 3)
    turn = _rotation(rng, 40)
    directions = directions @ turn.T
    cx, cy = _centreline(np.array(0.0), scene)
    offset = rng.uniform(0, 0.55) * scene.radius * (1 - scene.fold_height)
    angle = rng.uniform(0, 2 * np.pi)
    origin = np.array([cx + offset * np.cos(angle), cy + offset * np.sin(angle), 0.0])
    unit = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    t = _trace(origin, unit, scene)
    points = origin + t[:, None] * unit
    _, on_polyp = _free_distance(points, scene)
    normals = _normals(points, scene)
    to_light = -unit
    cosine = np.clip((normals * to_light).sum(1), 0, 1)
    # mucosa: a base colour, slow variation, vessels where a band-limited noise crosses zero
    base = np.array([rng.uniform(0.75, 0.95), rng.uniform(0.38, 0.62), rng.uniform(0.28, 0.45)])
    slow = _wave_noise(points, rng, 12, 0.8)
    vessels = np.exp(-(_wave_noise(points, rng, 16, 3.0) / 0.06) ** 2) * rng.uniform(0.2, 0.6)
    albedo = base * (1 + 0.12 * slow[:, None]) * (1 - vessels[:, None] * np.array([0.3, 0.75, 0.7]))
    polyp_tint = np.array([rng.uniform(0.95, 1.15), rng.uniform(0.7, 1.0), rng.uniform(0.75, 1.0)])
    albedo = np.where(on_polyp[:, None], albedo * polyp_tint * (1 + 0.1 * _wave_noise(points, rng, 12, 4.0))[:, None], albedo)
    fluid = np.isfinite(scene.fluid_level) & (points[:, 1] - _centreline(points[:, 2], scene)[1] > scene.fluid_level)
    albedo = np.where(fluid[:, None], np.array([0.75, 0.6, 0.25]) * rng.uniform(0.7, 1.0), albedo)
    shininess = rng.uniform(30, 120)
    specular = rng.uniform(0.3, 1.2) * cosine ** np.where(fluid, shininess * 2, shininess)
    distance = np.maximum(t, 0.3)
    radiance = (albedo * (cosine[:, None] * 0.85 + 0.15) + specular[:, None]) / distance[:, None] ** 2
    image = radiance.reshape(full, full, 3)
    depth = (t * (unit @ turn[:, 2])).reshape(full, full)  # along the optical axis
    polyp = on_polyp.reshape(full, full)
    # reduce, expose, blur, noise
    shape = (size, supersample, size, supersample)
    image = image.reshape(*shape, 3).mean(axis=(1, 3))
    depth = depth.reshape(shape).mean(axis=(1, 3))
    polyp = polyp.reshape(shape).mean(axis=(1, 3)) > 0.5
    image = image / np.percentile(image, rng.uniform(92, 99.5)) * rng.uniform(0.8, 1.0)
    image = np.clip(image, 0, 1) ** (1 / rng.uniform(1.6, 2.6))
    sigma = rng.uniform(0, 1.2)
    if sigma > 0.3:
        from scipy.ndimage import gaussian_filter

        image = gaussian_filter(image, (sigma, sigma, 0))
    image = np.clip(image + rng.normal(0, rng.uniform(0, 0.025), image.shape), 0, 1)
    valid = _octagon(size, rng) if rng.random() < 0.5 else np.ones((size, size), bool)
    image = image * valid[..., None]
    return ColonFrame(image.astype(np.float32), depth.astype(np.float32), polyp & valid, valid)
