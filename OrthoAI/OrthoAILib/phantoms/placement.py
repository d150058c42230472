"""Placing the patient on the film so that every keypoint lies inside the exposed field.

A large patient, turned 15° and shifted, can push a hip centre into the
collimated border or off the film. The drawn shift is therefore corrected
(and, when the keypoints span more than the field, the collimation narrowed)
before anything is drawn: keypoints that the film does not show could not be
learnt.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .film_looks import Collimation
from .radiograph_case import film_canvas
from .raster import Canvas


def fit_on_film(shape: tuple[int, int], spacing: float, rotation_rad: float, shift_mm, frame_centre, points,
                collimation: Collimation, margin_mm: float) -> tuple[Canvas, Collimation]:
    """A canvas whose ``points`` (frame mm) all lie ``margin_mm`` inside the collimated field, and that collimation."""
    canvas = film_canvas(shape, spacing, rotation_rad, shift_mm, frame_centre)
    if not len(points):
        return canvas, collimation
    rc_mm = np.array([canvas.pixel(p) for p in points]) * spacing
    margins = list(collimation.margins_mm)  # top, bottom, left, right
    blade_tilt = 10.0 if collimation.rotation_deg else 0.0
    size_mm = (shape[0] * spacing, shape[1] * spacing)
    move = [0.0, 0.0]
    for axis, (near, far) in enumerate(((0, 1), (2, 3))):
        low_point, high_point = rc_mm[:, axis].min(), rc_mm[:, axis].max()
        room = size_mm[axis] - 2 * margin_mm - 2 * blade_tilt
        span = high_point - low_point
        if span > room - margins[near] - margins[far]:  # narrow the collimation on this axis just enough
            keep = max(room - span, 0.0) / max(margins[near] + margins[far], 1e-9)
            margins[near], margins[far] = margins[near] * min(keep, 1.0), margins[far] * min(keep, 1.0)
        low = margins[near] + margin_mm + blade_tilt
        high = size_mm[axis] - margins[far] - margin_mm - blade_tilt
        if span > high - low:
            move[axis] = (low + high) / 2 - (low_point + high_point) / 2
        elif low_point < low:
            move[axis] = low - low_point
        elif high_point > high:
            move[axis] = high - high_point
    corrected = (float(shift_mm[0]) + move[1], float(shift_mm[1]) - move[0])  # rows run down, frame Y up
    collimation = dataclasses.replace(collimation, margins_mm=tuple(float(m) for m in margins))
    return film_canvas(shape, spacing, rotation_rad, corrected, frame_centre), collimation


def frame_extent(canvas: Canvas) -> tuple[float, float, float, float]:
    """Frame bounds (xmin, xmax, ymin, ymax) of the whole film."""
    rows, columns = canvas.image.shape
    corners = np.array([canvas.frame((r, c)) for r in (0, rows) for c in (0, columns)])
    return corners[:, 0].min(), corners[:, 0].max(), corners[:, 1].min(), corners[:, 1].max()
