"""Image geometry carried alongside arrays.

Arrays crossing a layer boundary are in **KJI order** (slice, row, column), the
order of ``slicer.util.arrayFromVolume`` and SimpleITK. The geometry maps the
array's IJK indices (column, row, slice) to patient RAS millimetres.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ImageGeometry:
    """Voxel-to-world mapping of a KJI-ordered array.

    ``spacing`` and ``origin`` are in IJK order (mm); ``directions`` is a 3×3
    matrix whose columns are the unit RAS directions of the I, J and K axes.
    """

    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    directions: tuple[tuple[float, float, float], ...] = field(
        default=((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
    )

    def __post_init__(self) -> None:
        spacing = np.asarray(self.spacing, dtype=float)
        if spacing.shape != (3,) or not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
            raise ValueError(f"spacing must be three positive numbers (mm), got {self.spacing}")
        directions = np.asarray(self.directions, dtype=float)
        if directions.shape != (3, 3) or abs(abs(np.linalg.det(directions)) - 1.0) > 1e-3:
            raise ValueError("directions must be a 3x3 orthonormal matrix (columns = I, J, K axes in RAS)")
        object.__setattr__(self, "spacing", tuple(float(s) for s in spacing))
        object.__setattr__(self, "origin", tuple(float(o) for o in self.origin))
        object.__setattr__(self, "directions", tuple(tuple(float(v) for v in row) for row in directions))

    @property
    def ijk_to_ras(self) -> np.ndarray:
        """4×4 homogeneous matrix from IJK index to RAS mm."""
        matrix = np.eye(4)
        matrix[:3, :3] = np.asarray(self.directions) * np.asarray(self.spacing)[np.newaxis, :]
        matrix[:3, 3] = self.origin
        return matrix

    @classmethod
    def from_ijk_to_ras(cls, matrix: np.ndarray) -> "ImageGeometry":
        matrix = np.asarray(matrix, dtype=float)
        axes = matrix[:3, :3]
        spacing = np.linalg.norm(axes, axis=0)
        return cls(tuple(spacing), tuple(matrix[:3, 3]), tuple(map(tuple, axes / spacing[np.newaxis, :])))

    def ijk_to_world(self, ijk: np.ndarray) -> np.ndarray:
        """IJK indices (N×3 or 3) to RAS mm."""
        ijk = np.asarray(ijk, dtype=float)
        homogeneous = np.concatenate([np.atleast_2d(ijk), np.ones((np.atleast_2d(ijk).shape[0], 1))], axis=1)
        ras = (self.ijk_to_ras @ homogeneous.T).T[:, :3]
        return ras[0] if ijk.ndim == 1 else ras

    def world_to_ijk(self, ras: np.ndarray) -> np.ndarray:
        """RAS mm (N×3 or 3) to continuous IJK indices."""
        ras = np.asarray(ras, dtype=float)
        homogeneous = np.concatenate([np.atleast_2d(ras), np.ones((np.atleast_2d(ras).shape[0], 1))], axis=1)
        ijk = (np.linalg.inv(self.ijk_to_ras) @ homogeneous.T).T[:, :3]
        return ijk[0] if ras.ndim == 1 else ijk


# A radiograph shown as a coronal slice in radiological orientation: columns run towards the
# patient's left (RAS -x), rows towards the feet (RAS -z), the normal points posterior (RAS -y).
RADIOGRAPH_DIRECTIONS = ((-1.0, 0.0, 0.0), (0.0, 0.0, -1.0), (0.0, -1.0, 0.0))


def radiograph_geometry(shape: tuple[int, int], spacing_rc: tuple[float, float]) -> ImageGeometry:
    """Geometry of a film (rows × columns, (row, column) spacing in mm) as a coronal slice centred on the origin."""
    rows, columns = shape
    return ImageGeometry(spacing=(spacing_rc[1], spacing_rc[0], 1.0),
                         origin=(columns * spacing_rc[1] / 2, 0.0, rows * spacing_rc[0] / 2),
                         directions=RADIOGRAPH_DIRECTIONS)


def pixel_points_to_ras(points_rc, geometry: ImageGeometry) -> dict:
    """Named (row, column) pixel positions of a single-slice image -> RAS mm through its geometry."""
    return {name: geometry.ijk_to_world([rc[1], rc[0], 0.0]) for name, rc in points_rc.items()}


def mirror_columns(points_rc, columns: int) -> dict:
    """Named (row, column) positions in an image flipped left-right (``columns`` wide)."""
    return {name: np.array([rc[0], columns - 1 - rc[1]]) for name, rc in points_rc.items()}


def lps_to_ras(points: np.ndarray) -> np.ndarray:
    """Flip the first two axes (LPS <-> RAS is its own inverse)."""
    points = np.array(points, dtype=float, copy=True)
    points[..., :2] *= -1.0
    return points


ras_to_lps = lps_to_ras
