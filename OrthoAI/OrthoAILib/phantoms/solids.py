"""Projected attenuation of simple solids, painted onto a :class:`~.raster.Canvas`.

A radiograph shows, per pixel, the attenuation summed along the beam. Drawing
each structure as the path length through a solid (times its attenuation per
mm) gives what flat masks cannot: a bone's cortex is bright where the beam runs
along the shell and its marrow is darker, a sphere is brightest at its centre,
a wire loop seen edge-on is a bright line. Every function adds one solid's
contribution inside its bounding box; lengths are frame (film) millimetres,
``mu`` is attenuation per film millimetre.
"""

from __future__ import annotations

import math

import numpy as np

from .raster import Canvas


def _cortical(outer: np.ndarray, inner: np.ndarray, mu: float, cortex_mu: float) -> np.ndarray:
    """Path through a shell solid: ``cortex_mu`` over the outer solid, ``mu`` over the inner one."""
    return cortex_mu * outer - (cortex_mu - mu) * inner


def ellipsoid(canvas: Canvas, centre, radii, depth: float, mu: float, rotation: float = 0.0,
              cortex: float = 0.0, cortex_mu: float = 0.0, mode: str = "add") -> None:
    """Ellipsoid with semi-axes ``radii`` in the film plane (rotated by ``rotation`` rad) and ``depth`` along the beam.

    ``cortex`` > 0 gives it a shell of that thickness with attenuation ``cortex_mu``.
    """
    cx, cy = float(centre[0]), float(centre[1])
    rx, ry = float(radii[0]), float(radii[1])
    cos, sin = math.cos(rotation), math.sin(rotation)
    reach_x, reach_y = math.hypot(rx * cos, ry * sin), math.hypot(rx * sin, ry * cos)

    def field(x, y):
        dx, dy = x - cx, y - cy
        u, v = dx * cos + dy * sin, dy * cos - dx * sin
        outer = np.sqrt(np.maximum(1.0 - (u / rx) ** 2 - (v / ry) ** 2, 0.0)) * (2.0 * depth)
        if cortex <= 0.0:
            return outer * mu
        ix, iy, iz = max(rx - cortex, 1e-3), max(ry - cortex, 1e-3), max(depth - cortex, 1e-3)
        inner = np.sqrt(np.maximum(1.0 - (u / ix) ** 2 - (v / iy) ** 2, 0.0)) * (2.0 * iz)
        return _cortical(outer, inner, mu, cortex_mu)

    canvas.paint_field(field, (cx - reach_x, cx + reach_x, cy - reach_y, cy + reach_y), mode)


def tube(canvas: Canvas, start, end, radius_start: float, radius_end: float, mu: float, cortex=0.0,
         cortex_mu: float = 0.0, depth_scale: float = 1.0, caps=True, mode: str = "add") -> None:
    """Tapered cylinder from ``start`` to ``end``; depth along the beam = radius × ``depth_scale``.

    ``cortex``: shell thickness, or a pair (at start, at end) for a cortex that thickens along the
    bone (a metaphysis into its diaphysis). ``caps``: rounded (hemispherical) ends, as bones and rods
    have, or flat ones (False); a pair (start, end) chooses per end (a flat end hidden inside the
    next piece of the same bone).
    """
    cap_start, cap_end = (caps, caps) if isinstance(caps, bool) else caps
    cortex_start, cortex_end = (cortex, cortex) if np.isscalar(cortex) else cortex
    p0, p1 = np.asarray(start, dtype=float), np.asarray(end, dtype=float)
    length = float(np.linalg.norm(p1 - p0))
    if length < 1e-6:
        return
    ux, uy = (p1 - p0) / length
    r0, r1 = float(radius_start), float(radius_end)
    reach = max(r0, r1)
    # a long thin tube across the film would be evaluated over a huge bounding box: cut it into
    # pieces along its axis, each pixel belonging to exactly one piece by its position t
    pieces = int(np.clip(min(abs(p1[0] - p0[0]), abs(p1[1] - p0[1])) / (2.0 * reach), 1, 32))
    bounds = np.linspace(0.0, 1.0, pieces + 1)
    low_limits = [-np.inf if cap_start else 0.0, *bounds[1:-1]]
    high_limits = [*bounds[1:-1], np.inf if cap_end else np.nextafter(1.0, 2.0)]

    def field_between(low, high):
        def field(x, y):
            dx, dy = x - p0[0], y - p0[1]
            t = (dx * ux + dy * uy) / length
            clamped = np.clip(t, 0.0, 1.0)
            d2 = (dy * ux - dx * uy) ** 2
            if cap_start or cap_end:
                d2 = d2 + ((t - clamped) * length) ** 2
            radius = r0 + (r1 - r0) * clamped
            outer = np.sqrt(np.maximum(radius * radius - d2, 0.0))
            if cortex_start > 0.0 or cortex_end > 0.0:
                inner_radius = np.maximum(radius - (cortex_start + (cortex_end - cortex_start) * clamped), 0.0)
                inner = np.sqrt(np.maximum(inner_radius * inner_radius - d2, 0.0))
                values = _cortical(outer, inner, mu, cortex_mu)
            else:
                values = outer * mu
            values *= np.float32(2.0 * depth_scale)
            if np.isinf(low) and np.isinf(high):
                return values
            return np.where((t >= low) & (t < high), values, 0.0).astype(np.float32)
        return field

    for low, high in zip(low_limits, high_limits):
        a = p0 + max(low, 0.0) * (p1 - p0)
        b = p0 + min(high, 1.0) * (p1 - p0)
        canvas.paint_field(field_between(low, high), (min(a[0], b[0]) - reach, max(a[0], b[0]) + reach,
                                                      min(a[1], b[1]) - reach, max(a[1], b[1]) + reach), mode)


def polyline(canvas: Canvas, points, radius: float, mu: float, mode: str = "add") -> None:
    """A rod along consecutive points (a cortex seen edge-on, a wire)."""
    points = np.asarray(points, dtype=float)
    for a, b in zip(points[:-1], points[1:]):  # flat ends: round caps would double up at the joints
        tube(canvas, a, b, radius, radius, mu, caps=False, mode=mode)


def arc_band(canvas: Canvas, centre, radii, width: float, start_deg: float, end_deg: float, mu: float,
             rotation: float = 0.0, mode: str = "add") -> None:
    """A rod of diameter ``width`` bent along an elliptical arc (parametric angles, counter-clockwise).

    A wire loop round a femur seen from the front, a rib, the sclerotic roof of an acetabulum.
    """
    cx, cy = float(centre[0]), float(centre[1])
    a, b = float(radii[0]), float(radii[1])
    cos, sin = math.cos(rotation), math.sin(rotation)
    span = (end_deg - start_deg) % 360.0 or 360.0
    half = width / 2.0
    first = (math.cos(math.radians(start_deg)), math.sin(math.radians(start_deg)))
    last = (math.cos(math.radians(start_deg + span)), math.sin(math.radians(start_deg + span)))
    angles = np.radians(start_deg + np.linspace(0.0, span, 48))
    u, v = a * np.cos(angles), b * np.sin(angles)  # the arc, in the ellipse's own axes
    xs, ys = cx + u * cos - v * sin, cy + u * sin + v * cos

    def field(x, y):
        dx, dy = x - cx, y - cy
        u, v = dx * cos + dy * sin, dy * cos - dx * sin
        rho = np.sqrt((u / a) ** 2 + (v / b) ** 2) + 1e-9
        gradient = np.sqrt((u / (a * a)) ** 2 + (v / (b * b)) ** 2) / rho + 1e-9
        distance = (rho - 1.0) / gradient  # first-order distance to the ellipse
        thickness = np.sqrt(np.maximum(half * half - distance * distance, 0.0)) * np.float32(2.0 * mu)
        if span >= 360.0:
            return thickness.astype(np.float32)
        # inside the arc by the signs of two cross products (cheaper than an arctangent per pixel)
        pu, pv = u / a, v / b
        after_start = first[0] * pv - first[1] * pu >= 0
        before_end = pu * last[1] - pv * last[0] >= 0
        inside = (after_start & before_end) if span <= 180.0 else (after_start | before_end)
        return np.where(inside, thickness, 0.0).astype(np.float32)

    canvas.paint_field(field, (xs.min() - half, xs.max() + half, ys.min() - half, ys.max() + half), mode)


def plate(canvas: Canvas, vertices, thickness: float, mu: float, mode: str = "add") -> None:
    """A flat plate of uniform thickness seen face-on (a polygon)."""
    canvas.polygon(vertices, thickness * mu, mode=mode)
