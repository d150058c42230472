"""Drawing filled shapes into an image, with numpy alone.

Shapes are given in a physical frame (mm, X to the right of the drawing, Y
up); :class:`Canvas` maps that frame to pixels through an affine transform
(scale, rotation, translation) and evaluates each shape only inside its
bounding box, so a 15-megapixel film with dozens of shapes draws quickly.
(The phantoms must run inside Slicer, whose Python has numpy but not
necessarily scikit-image.)
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

Mask = Callable[[np.ndarray, np.ndarray], np.ndarray]
Field = Callable[[np.ndarray, np.ndarray], np.ndarray]  # X, Y -> value per pixel (0 outside)


class Canvas:
    """``image[row, column]`` with a frame->pixel map: column = a·X + b·Y + c0, row = d·X + e·Y + r0."""

    def __init__(self, shape: tuple[int, int], pixels_per_mm: float, rotation_rad: float = 0.0,
                 origin_rc: Sequence[float] = (0.0, 0.0), fill: float = 0.0) -> None:
        self.image = np.full(shape, fill, dtype=np.float32)
        cos, sin = math.cos(rotation_rad), math.sin(rotation_rad)
        # frame (X right, Y up) -> pixels (column right, row down), rotated by rotation_rad
        self.to_pixel = np.array([[pixels_per_mm * -sin, pixels_per_mm * -cos, origin_rc[0]],
                                  [pixels_per_mm * cos, pixels_per_mm * -sin, origin_rc[1]]])
        self.to_frame = np.linalg.inv(np.vstack([self.to_pixel, [0, 0, 1]]))[:2]

    def pixel(self, xy: Sequence[float]) -> np.ndarray:
        """(row, column) of a frame point."""
        return self.to_pixel @ np.array([xy[0], xy[1], 1.0])

    def frame(self, rc: Sequence[float]) -> np.ndarray:
        return self.to_frame @ np.array([rc[0], rc[1], 1.0])

    def block_box(self, bounds_xy: tuple[float, float, float, float]):
        """Pixel rows r0:r1 and columns c0:c1 covering frame bounds (xmin, xmax, ymin, ymax), or None when off the image."""
        xmin, xmax, ymin, ymax = bounds_xy
        corners = np.array([self.pixel((x, y)) for x in (xmin, xmax) for y in (ymin, ymax)])
        r0, c0 = np.maximum(np.floor(corners.min(axis=0)).astype(int), 0)
        r1 = min(int(np.ceil(corners[:, 0].max())) + 1, self.image.shape[0])
        c1 = min(int(np.ceil(corners[:, 1].max())) + 1, self.image.shape[1])
        return None if r0 >= r1 or c0 >= c1 else (int(r0), r1, int(c0), c1)

    def block(self, bounds_xy: tuple[float, float, float, float]):
        """The pixel block covering frame bounds: (view, X, Y) of its pixels, or None when off the image."""
        box = self.block_box(bounds_xy)
        if box is None:
            return None
        r0, r1, c0, c1 = box
        frame = self.to_frame
        x0, y0 = frame @ [r0, c0, 1.0]
        rows = np.arange(r1 - r0, dtype=np.float32)[:, None]
        columns = np.arange(c1 - c0, dtype=np.float32)[None, :]
        # float32 throughout (Python-float coefficients do not promote): every shape's field is float32
        x = (rows * float(frame[0, 0]) + float(x0)) + columns * float(frame[0, 1])
        y = (rows * float(frame[1, 0]) + float(y0)) + columns * float(frame[1, 1])
        return self.image[r0:r1, c0:c1], x, y

    def paint(self, mask: Mask, bounds_xy: tuple[float, float, float, float], value: float, mode: str = "add") -> None:
        """Apply ``value`` where ``mask(X, Y)`` holds, within frame bounds (xmin, xmax, ymin, ymax)."""
        found = self.block(bounds_xy)
        if found is None:
            return
        block, x, y = found
        inside = mask(x, y)
        if mode == "add":
            block[inside] += value
        elif mode == "set":
            block[inside] = value
        elif mode == "max":
            block[inside] = np.maximum(block[inside], value)
        elif mode == "scale":
            block[inside] *= value
        else:
            raise ValueError(mode)

    def paint_field(self, field: Field, bounds_xy: tuple[float, float, float, float], mode: str = "add") -> None:
        """Add (or take the maximum with) ``field(X, Y)``, a value per pixel, within frame bounds.

        Projected thicknesses are fields: a bone drawn this way gets its bright cortex
        where the beam runs along its shell, as on a real film.
        """
        found = self.block(bounds_xy)
        if found is None:
            return
        block, x, y = found
        values = field(x, y)
        if mode == "add":
            block += values
        elif mode == "max":
            np.maximum(block, values, out=block)
        elif mode == "scale":
            block *= values
        else:
            raise ValueError(mode)

    def coarse(self, factor: int) -> "Canvas":
        """The same frame on a grid ``factor`` times coarser; its pixel i covers fine pixels i·factor … i·factor+factor-1."""
        shape = (-(-self.image.shape[0] // factor), -(-self.image.shape[1] // factor))
        coarse = Canvas(shape, 1.0)
        coarse.to_pixel = self.to_pixel.copy()
        coarse.to_pixel[:, :2] /= factor
        coarse.to_pixel[:, 2] = (self.to_pixel[:, 2] + 0.5) / factor - 0.5
        coarse.to_frame = np.linalg.inv(np.vstack([coarse.to_pixel, [0, 0, 1]]))[:2]
        return coarse

    # -- shapes, in frame millimetres ---------------------------------------
    def ellipse(self, centre, radii, value, rotation: float = 0.0, mode: str = "add") -> None:
        cx, cy = centre
        rx, ry = radii
        cos, sin = math.cos(rotation), math.sin(rotation)
        reach = max(rx, ry)

        def mask(x, y):
            dx, dy = x - cx, y - cy
            u, v = dx * cos + dy * sin, -dx * sin + dy * cos
            return (u / rx) ** 2 + (v / ry) ** 2 <= 1.0

        self.paint(mask, (cx - reach, cx + reach, cy - reach, cy + reach), value, mode)

    def disk(self, centre, radius, value, mode: str = "add") -> None:
        self.ellipse(centre, (radius, radius), value, mode=mode)

    def polygon(self, vertices, value, mode: str = "add") -> None:
        points = np.asarray(vertices, dtype=float)

        def mask(x, y):
            inside = np.zeros(x.shape, dtype=bool)
            for (x0, y0), (x1, y1) in zip(points, np.roll(points, -1, axis=0)):
                if y0 == y1:
                    continue
                crosses = (y >= min(y0, y1)) & (y < max(y0, y1))
                x_at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
                inside ^= crosses & (x < x_at)
            return inside

        self.paint(mask, (points[:, 0].min(), points[:, 0].max(), points[:, 1].min(), points[:, 1].max()), value, mode)

    def annulus_sector(self, centre, inner, outer, start_deg, end_deg, value, mode: str = "add") -> None:
        """Ring between two radii, for polar angles from ``start_deg`` to ``end_deg`` (counter-clockwise)."""
        cx, cy = centre
        span = (end_deg - start_deg) % 360.0

        def mask(x, y):
            dx, dy = x - cx, y - cy
            distance = dx * dx + dy * dy
            angle = (np.degrees(np.arctan2(dy, dx)) - start_deg) % 360.0
            return (distance <= outer * outer) & (distance >= inner * inner) & (angle <= span)

        self.paint(mask, (cx - outer, cx + outer, cy - outer, cy + outer), value, mode)

    def half_annulus(self, centre, inner, outer, normal, value, mode: str = "add") -> None:
        """Ring between two radii, on the side of ``normal`` (a hemispherical shell seen from the front)."""
        cx, cy = centre
        nx, ny = normal

        def mask(x, y):
            dx, dy = x - cx, y - cy
            distance = dx * dx + dy * dy
            return (distance <= outer * outer) & (distance >= inner * inner) & (dx * nx + dy * ny >= 0)

        self.paint(mask, (cx - outer, cx + outer, cy - outer, cy + outer), value, mode)


def ellipse_mask(shape: tuple[int, int], centre_rc: Sequence[float], radii_rc: Sequence[float],
                 rotation: float = 0.0) -> np.ndarray:
    """Pixels inside an ellipse; centre and radii in (row, column) pixels, rotation in radians."""
    rows, columns = np.ogrid[: shape[0], : shape[1]]
    dr, dc = rows - centre_rc[0], columns - centre_rc[1]
    cos, sin = math.cos(rotation), math.sin(rotation)
    return ((dr * cos - dc * sin) / radii_rc[0]) ** 2 + ((dr * sin + dc * cos) / radii_rc[1]) ** 2 <= 1.0


def disk_mask(shape: tuple[int, int], centre_rc: Sequence[float], radius: float) -> np.ndarray:
    return ellipse_mask(shape, centre_rc, (radius, radius))


def polygon_mask(shape: tuple[int, int], vertices_rc: Sequence[Sequence[float]]) -> np.ndarray:
    """Pixels inside a simple polygon (even-odd rule), vertices in (row, column) pixels."""
    canvas = Canvas(shape, 1.0, rotation_rad=0.0)
    canvas.to_pixel = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # frame (x, y) = (column, row)
    canvas.to_frame = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    canvas.polygon([(c, r) for r, c in vertices_rc], 1.0, mode="set")
    return canvas.image > 0
