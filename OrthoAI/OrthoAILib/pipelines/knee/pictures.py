"""A picture of a knee's thickness maps: each plate seen face on, coloured by thickness on one
shared scale (0-4 mm), with a colour bar. For the report export and the README."""

from __future__ import annotations

import numpy as np

from ...io.pictures import colour_scale
from ...phantoms.glyphs import stamp_text

SCALE_MM = (0.0, 4.0)
PIXEL_MM = 0.5
PANEL = 180  # pixels per plate panel (90 mm)
NO_VALUE = np.array([90, 90, 90], np.float32)


def _panel(surface) -> np.ndarray:
    """The plate projected on its own plane (its two directions of largest spread), mean thickness per pixel."""
    rgb = np.full((PANEL, PANEL, 3), 255, np.float32)
    if not len(surface.vertices):
        return rgb
    centred = surface.vertices - surface.vertices.mean(0)
    _, _, axes = np.linalg.svd(centred[::max(1, len(centred) // 20000)], full_matrices=False)
    uv = centred @ axes[:2].T / PIXEL_MM + PANEL / 2
    rows, columns = np.clip(uv[:, 1].astype(int), 0, PANEL - 1), np.clip(uv[:, 0].astype(int), 0, PANEL - 1)
    total = np.zeros((PANEL, PANEL))
    count = np.zeros((PANEL, PANEL))
    seen = np.zeros((PANEL, PANEL), bool)
    measured = np.isfinite(surface.thickness)
    np.add.at(total, (rows[measured], columns[measured]), surface.thickness[measured])
    np.add.at(count, (rows[measured], columns[measured]), 1)
    seen[rows, columns] = True
    mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    rgb[seen] = NO_VALUE
    filled = count > 0
    rgb[filled] = colour_scale((mean[filled] - SCALE_MM[0]) / (SCALE_MM[1] - SCALE_MM[0]))
    return rgb


def thickness_picture(biomarkers) -> np.ndarray:
    """RGB uint8: a panel per plate (named), a colour bar from 0 to 4 mm underneath."""
    plates = [(name, surface) for name, surface in biomarkers.maps.items() if len(surface.vertices)]
    width = max(1, len(plates)) * (PANEL + 10) + 10
    picture = np.full((PANEL + 80, width, 3), 255, np.float32)
    for index, (name, surface) in enumerate(plates):
        left = 10 + index * (PANEL + 10)
        picture[24:24 + PANEL, left:left + PANEL] = _panel(surface)
        mean = biomarkers.plates[name].thickness_mm["mean"] if name in biomarkers.plates else None
        stamp_text(picture, name.replace("_", " ")[:15].upper(), (6, left), 2, 0)
        if mean is not None:
            stamp_text(picture, f"MEAN {mean:.2f} MM", (24 + PANEL - 18, left + 4), 2, 0)
    bar_top, bar_left, bar_width = PANEL + 36, 10, min(width - 20, 400)
    picture[bar_top:bar_top + 14, bar_left:bar_left + bar_width] = colour_scale(np.linspace(0, 1, bar_width))[None]
    for value in range(int(SCALE_MM[1]) + 1):
        column = bar_left + int(value / SCALE_MM[1] * (bar_width - 1))
        stamp_text(picture, str(value), (bar_top + 20, max(column - 5, 0)), 2, 0)
    stamp_text(picture, "MM", (bar_top + 20, bar_left + bar_width + 8), 2, 0)
    return np.clip(picture, 0, 255).astype(np.uint8)
