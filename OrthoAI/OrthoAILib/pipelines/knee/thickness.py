"""Cartilage thickness along the surface normal, with a per-point map on the cartilage surface.

The method (documented for users in the README):

1. The plate's surface is a marching-cubes mesh of its mask, lightly smoothed (Gaussian, half a voxel)
   so the mesh lies between voxel centres and its normals are not those of the voxel staircase.
   Vertices are in millimetres in the volume's world (RAS) space, so anisotropic voxels and oblique
   grids are measured as they are in the patient.
2. From every vertex a ray goes along the inward normal, sampled every half of the smallest voxel
   on the trilinear-interpolated (smoothed) mask, to where it leaves the cartilage (the 0.5 crossing, refined by
   linear interpolation). Its length is the local thickness, so the map covers both the articular and
   the bone-facing side of the plate and does not depend on which labels the user has.
3. A ray that runs along the plate instead of across it (from the plate's rim) is left out: it is
   longer than 1.5 times the largest inscribed-sphere diameter it passes (Euclidean distance map of the
   mask), the thickness Hildebrand and Rüegsegger (J Microsc 1997) define. Left-out points get no value.

Statistics are weighted by the area each vertex represents (a third of its triangles' area), so the
mesh's density on an anisotropic grid does not bias them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MARGIN = 3  # voxels of background around the plate's bounding box
SMOOTHING_VOXELS = 0.5
MAX_THICKNESS_MM = 15.0  # cartilage is at most ~7 mm (patella); longer rays are rims or artefacts
RIM_FACTOR = 1.5
NORMAL_SMOOTHING = 4  # rounds of averaging with mesh neighbours (reach ~4 vertices, ~1 mm)


@dataclass(frozen=True)
class ThicknessMap:
    """A plate's surface mesh (world mm) with thickness per vertex (NaN where not measured)."""

    vertices: np.ndarray  # (N, 3) RAS mm
    faces: np.ndarray  # (M, 3) vertex indices
    thickness: np.ndarray  # (N,) mm, NaN at rim points
    vertex_area: np.ndarray  # (N,) mm², a third of the adjacent triangles' area

    @property
    def measured(self) -> np.ndarray:
        return np.isfinite(self.thickness)

    @property
    def surface_area_mm2(self) -> float:
        return float(self.vertex_area.sum())

    def statistics(self, select: np.ndarray | None = None) -> dict:
        """Area-weighted mean, median and 95th percentile, and the maximum, of the measured points."""
        keep = self.measured if select is None else self.measured & select
        return thickness_statistics(self.thickness[keep], self.vertex_area[keep])


def thickness_statistics(values: np.ndarray, weights: np.ndarray) -> dict:
    if values.size == 0 or float(weights.sum()) <= 0:
        return {"mean": None, "median": None, "p95": None, "max": None, "points": 0}
    order = np.argsort(values)
    values, weights = values[order], weights[order]
    cumulative = np.cumsum(weights) / weights.sum()

    def quantile(q: float) -> float:
        return float(values[min(int(np.searchsorted(cumulative, q)), values.size - 1)])

    return {"mean": round(float(np.average(values, weights=weights)), 3), "median": round(quantile(0.5), 3),
            "p95": round(quantile(0.95), 3), "max": round(float(values[-1]), 3), "points": int(values.size)}


def _vertex_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    triangle = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    area = np.zeros(len(vertices))
    for i in range(3):
        np.add.at(area, faces[:, i], triangle / 3)
    return area


def _smoothed_over_mesh(vectors: np.ndarray, faces: np.ndarray, iterations: int = NORMAL_SMOOTHING) -> np.ndarray:
    """Unit vectors averaged with their mesh neighbours a few times: the voxel staircase's facets
    tilt single normals by up to ~20°, which would lengthen rays by up to 6 %."""
    from scipy import sparse

    n = len(vectors)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    adjacency = sparse.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
    adjacency = ((adjacency + adjacency.T) > 0).astype(np.float64) + sparse.identity(n, format="csr")
    for _ in range(iterations):
        vectors = adjacency @ vectors
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors


def _outward_normals(verts, faces, field, spacing) -> np.ndarray:
    """Unit vertex normals from the mesh's triangles (area-weighted, in mm, so anisotropic voxels
    do not tilt them), turned to point out of the cartilage (where the smoothed mask falls)."""
    from scipy import ndimage

    a, b, c = (verts[faces[:, i]] for i in range(3))
    face_normals = np.cross(b - a, c - a)  # length = twice the area: larger triangles weigh more
    normals = np.zeros_like(verts)
    for i in range(3):
        np.add.at(normals, faces[:, i], face_normals)
    normals = _smoothed_over_mesh(normals, faces)
    probe = ((verts + 0.5 * spacing.min() * normals) / spacing).T
    falls = ndimage.map_coordinates(field, probe, order=1) < 0.5
    return normals if falls.mean() >= 0.5 else -normals


def thickness_map(mask: np.ndarray, spacing_kji, ijk_to_ras: np.ndarray | None = None) -> ThicknessMap:
    """The thickness map of one plate (a boolean KJI mask) on a grid with this spacing (mm, KJI order).

    ``ijk_to_ras`` (4×4, the grid's index-to-world matrix) places the mesh in world space; without it
    the mesh is in millimetres of the grid's own axes.
    """
    from scipy import ndimage
    from skimage.measure import marching_cubes

    mask = np.asarray(mask, dtype=bool)
    spacing = np.asarray(spacing_kji, dtype=float)
    empty = ThicknessMap(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64), np.zeros(0), np.zeros(0))
    if not mask.any():
        return empty
    indices = np.argwhere(mask)
    low = np.maximum(indices.min(0) - MARGIN, 0)
    high = np.minimum(indices.max(0) + MARGIN + 1, mask.shape)
    crop = np.zeros(tuple(high - low + 2 * MARGIN), dtype=np.float32)  # padded: the surface always closes
    crop[MARGIN:MARGIN + high[0] - low[0], MARGIN:MARGIN + high[1] - low[1], MARGIN:MARGIN + high[2] - low[2]] = \
        mask[low[0]:high[0], low[1]:high[1], low[2]:high[2]]
    field = ndimage.gaussian_filter(crop, SMOOTHING_VOXELS)
    if field.max() <= 0.5:  # a speck thinner than the smoothing: no surface to measure
        return empty
    verts, faces, _, _ = marching_cubes(field, 0.5, spacing=tuple(spacing))  # mm on the crop's axes
    normals = _outward_normals(verts, faces, field, spacing)
    inscribed = ndimage.distance_transform_edt(crop > 0, sampling=spacing).astype(np.float32)
    thickness = _ray_thickness(field, inscribed, verts, normals, spacing)
    area = _vertex_areas(verts, faces)

    # To the grid's index space, then to world.
    ijk = (verts / spacing + low - MARGIN)[:, ::-1]
    if ijk_to_ras is None:
        world = ijk * spacing[::-1]
    else:
        matrix = np.asarray(ijk_to_ras, dtype=float)
        world = ijk @ matrix[:3, :3].T + matrix[:3, 3]
    return ThicknessMap(world, faces.astype(np.int64), thickness, area)


def _ray_thickness(field, inscribed, verts, normals, spacing) -> np.ndarray:
    """Length of the inward ray from each vertex to the 0.5 crossing (mm); NaN for rim rays.

    Rays march in blocks of samples and stop once out, so the cost follows the cartilage's thickness,
    not the longest ray allowed."""
    from scipy import ndimage

    step = float(spacing.min()) / 2
    block = 8
    lengths = np.full(len(verts), np.nan)
    reach = np.zeros(len(verts))
    active = np.arange(len(verts))
    previous = np.full(len(verts), 0.5, dtype=np.float32)  # the field on the surface itself
    inside_seen = np.zeros(len(verts), dtype=bool)
    travelled = 0.0
    while active.size and travelled < MAX_THICKNESS_MM:
        distances = travelled + step * np.arange(1, block + 1, dtype=np.float32)
        points = verts[active, None, :] - normals[active, None, :] * distances[None, :, None]
        coords = (points / spacing).reshape(-1, 3).T
        values = ndimage.map_coordinates(field, coords, order=1, cval=0.0).reshape(active.size, block)
        radii = ndimage.map_coordinates(inscribed, coords, order=1, cval=0.0).reshape(active.size, block)
        outside = values < 0.5
        seen = np.maximum.accumulate(~outside, axis=1) | inside_seen[active, None]
        leaving = outside & seen
        found = leaving.any(axis=1)
        first = np.argmax(leaving, axis=1)
        upto = np.arange(block)[None, :] <= np.where(found, first, block - 1)[:, None]
        reach[active] = np.maximum(reach[active], np.where(upto, radii, 0).max(axis=1))
        rows = np.nonzero(found)[0]
        j = first[rows]
        before = np.where(j > 0, values[rows, np.maximum(j - 1, 0)], previous[active[rows]])
        after = values[rows, j]
        fraction = np.clip((before - 0.5) / np.maximum(before - after, 1e-6), 0, 1)
        lengths[active[rows]] = distances[j] - step + fraction * step
        previous[active] = values[:, -1]
        inside_seen[active] = seen[:, -1]
        active = active[~found]
        travelled = float(distances[-1])
    # The inscribed distance counts to the nearest background voxel centre: half a voxel more than to
    # the surface. Rays much longer than the widest sphere they pass run along the plate.
    diameter = 2 * np.maximum(reach - spacing.max() / 2, spacing.min() / 2)
    lengths[lengths > RIM_FACTOR * diameter + spacing.max()] = np.nan
    return lengths
