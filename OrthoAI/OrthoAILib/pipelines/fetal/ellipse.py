"""Ellipses in image pixels: fitting to a boundary, perimeter, outline and mask.

Coordinates are (x, y) = (column, row) in pixels of the still, as ``center_px`` in the results.
The fit is the numerically stable direct least-squares ellipse fit (Halíř & Flusser 1998, after
Fitzgibbon et al. 1999): it always returns an ellipse, so the caller judges the fit by how well
the ellipse matches the region it came from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ellipse:
    center_px: tuple[float, float]  # (x, y)
    semi_axes_px: tuple[float, float]  # (major, minor), major >= minor
    angle_deg: float  # of the major axis, from +x towards +y (image rows grow downwards), in [0, 180)

    def to_json(self) -> dict:
        return {"center_px": [round(v, 3) for v in self.center_px],
                "semi_axes_px": [round(v, 3) for v in self.semi_axes_px], "angle_deg": round(self.angle_deg, 3)}

    @classmethod
    def from_json(cls, data: dict) -> "Ellipse":
        return cls(tuple(map(float, data["center_px"])), tuple(map(float, data["semi_axes_px"])),
                   float(data["angle_deg"]))

    def shrunk(self, pixels: float) -> "Ellipse":
        """The ellipse with both semi-axes shorter by ``pixels`` (an outline drawn ``pixels`` wide)."""
        return Ellipse(self.center_px, (max(self.semi_axes_px[0] - pixels, 0.0), max(self.semi_axes_px[1] - pixels, 0.0)),
                       self.angle_deg)

    def grown(self, pixels: float) -> "Ellipse":
        """The ellipse with both semi-axes longer by ``pixels``."""
        return self.shrunk(-pixels)

    def scaled(self, factor: float) -> "Ellipse":
        return Ellipse(tuple(v * factor for v in self.center_px), tuple(v * factor for v in self.semi_axes_px),
                       self.angle_deg)

    @property
    def perimeter_px(self) -> float:
        return ellipse_perimeter(*self.semi_axes_px)

    def outline(self, count: int = 64) -> np.ndarray:
        """``count`` points (x, y) along the ellipse."""
        t = np.linspace(0, 2 * np.pi, count, endpoint=False)
        a, b = self.semi_axes_px
        angle = math.radians(self.angle_deg)
        x = a * np.cos(t) * math.cos(angle) - b * np.sin(t) * math.sin(angle) + self.center_px[0]
        y = a * np.cos(t) * math.sin(angle) + b * np.sin(t) * math.cos(angle) + self.center_px[1]
        return np.stack([x, y], axis=1)

    def mask(self, shape_rc: tuple[int, int]) -> np.ndarray:
        """Pixels whose centres lie inside the ellipse."""
        rows, cols = np.mgrid[0:shape_rc[0], 0:shape_rc[1]]
        angle = math.radians(self.angle_deg)
        dx, dy = cols - self.center_px[0], rows - self.center_px[1]
        u = dx * math.cos(angle) + dy * math.sin(angle)
        v = -dx * math.sin(angle) + dy * math.cos(angle)
        a, b = max(self.semi_axes_px[0], 1e-6), max(self.semi_axes_px[1], 1e-6)
        return (u / a) ** 2 + (v / b) ** 2 <= 1.0

    def inside_image(self, shape_rc: tuple[int, int], margin_px: float = 0.0) -> bool:
        points = self.outline(90)
        return bool(np.all(points >= -margin_px) and np.all(points[:, 0] <= shape_rc[1] - 1 + margin_px)
                    and np.all(points[:, 1] <= shape_rc[0] - 1 + margin_px))


def ellipse_perimeter(a: float, b: float) -> float:
    """Ramanujan's second approximation (relative error below 1e-9 for head-like ellipses)."""
    if a + b <= 0:
        return 0.0
    h = ((a - b) / (a + b)) ** 2
    return math.pi * (a + b) * (1 + 3 * h / (10 + math.sqrt(4 - 3 * h)))


def fit_ellipse(points_xy: np.ndarray) -> Ellipse | None:
    """Direct least-squares ellipse through ``points_xy`` (N×2, N >= 6); None when they define none."""
    points = np.asarray(points_xy, float)
    if len(points) < 6 or not np.all(np.isfinite(points)):
        return None
    centre = points.mean(axis=0)
    scale = float(np.sqrt(((points - centre) ** 2).sum(axis=1).mean())) or 1.0
    x, y = ((points - centre) / scale).T  # conditioned coordinates
    quadratic = np.stack([x * x, x * y, y * y], axis=1)
    linear = np.stack([x, y, np.ones_like(x)], axis=1)
    s1, s2, s3 = quadratic.T @ quadratic, quadratic.T @ linear, linear.T @ linear
    try:
        t = -np.linalg.solve(s3, s2.T)
    except np.linalg.LinAlgError:
        return None
    m = s1 + s2 @ t
    m = np.array([m[2] / 2, -m[1], m[0] / 2])
    values, vectors = np.linalg.eig(m)
    vectors = np.real(vectors)
    condition = 4 * vectors[0] * vectors[2] - vectors[1] ** 2
    candidates = np.nonzero(condition > 0)[0]
    if len(candidates) == 0:
        return None
    a1 = vectors[:, candidates[0]]
    conic = np.concatenate([a1, t @ a1])
    return _conic_to_ellipse(conic, centre, scale)


def _conic_to_ellipse(conic: np.ndarray, centre: np.ndarray, scale: float) -> Ellipse | None:
    a, b, c, d, e, f = conic
    b, d, e = b / 2, d / 2, e / 2
    denominator = b * b - a * c
    if denominator >= 0:
        return None
    x0 = (c * d - b * e) / denominator
    y0 = (a * e - b * d) / denominator
    numerator = 2 * (a * e * e + c * d * d + f * b * b - 2 * b * d * e - a * c * f)
    root = math.sqrt((a - c) ** 2 + 4 * b * b)
    first = numerator / (denominator * (root - (a + c)))
    second = numerator / (denominator * (-root - (a + c)))
    if first <= 0 or second <= 0:
        return None
    axis1, axis2 = math.sqrt(first), math.sqrt(second)
    major, minor = max(axis1, axis2) * scale, min(axis1, axis2) * scale
    # The major axis runs along the eigenvector of the (positive definite) quadratic part with the
    # smaller eigenvalue.
    quadratic = np.array([[a, b], [b, c]]) * (1.0 if a + c > 0 else -1.0)
    values, vectors = np.linalg.eigh(quadratic)
    direction = vectors[:, int(np.argmin(values))]
    angle = math.atan2(direction[1], direction[0])
    centre_xy = (float(x0 * scale + centre[0]), float(y0 * scale + centre[1]))
    return Ellipse(centre_xy, (float(major), float(minor)), float(math.degrees(angle) % 180.0))


def mask_boundary(probability_or_mask: np.ndarray, level: float = 0.5) -> np.ndarray | None:
    """The longest iso-line of ``level`` as (x, y) points with sub-pixel precision, or None."""
    from skimage.measure import find_contours

    padded = np.pad(np.asarray(probability_or_mask, float), 1, constant_values=0.0)
    contours = find_contours(padded, level)
    if not contours:
        return None
    longest = max(contours, key=len)
    return longest[:, ::-1] - 1.0  # (row, col) of the padded grid -> (x, y) of the image


def fit_region(probability_or_mask: np.ndarray, level: float = 0.5) -> Ellipse | None:
    boundary = mask_boundary(probability_or_mask, level)
    return None if boundary is None else fit_ellipse(boundary)
