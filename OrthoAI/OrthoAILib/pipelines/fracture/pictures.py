"""A picture per fracture finding, for the report: the axial slice through the finding's centre in a
bone window, its box drawn in the colour of its class, a header naming it.

The slice is sampled on its own RAS grid (any acquisition orientation gives the same picture) and
shown as Slicer's axial view shows it: radiological, the patient's right on the picture's left,
anterior up. numpy and scipy only.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ...geometry import ImageGeometry
from ...phantoms.glyphs import stamp_text
from .bones import BONE_BY_KEY
from .pipeline import Finding

BONE_WINDOW_HU = (-450.0, 1050.0)  # level 300, width 1500
AIR_HU = -1024.0  # outside the volume
# One colour per class, for the pictures and the finding boxes in the scene (RGB 0-255).
CLASS_COLOURS = {"fresh": (230, 45, 45), "old": (240, 200, 40), "post-operative": (60, 140, 255),
                 "suspected": (255, 135, 0), "other": (175, 175, 175)}
SLICE_PX = 384
FIELD_MM = (80.0, 240.0)  # the slice shows this much, at least and at most
CONTEXT = 3.0  # the field is this many times the box's larger in-plane side
TEXT_PX = 2  # font pixel size: 12 pixels a character, 32 characters a line
LINE_PX = 18
HEADER_PX = 3 * LINE_PX + 6


def class_colour(cls: str) -> tuple[int, int, int]:
    return CLASS_COLOURS.get(cls, CLASS_COLOURS["other"])


def axial_slice(volume_kji: np.ndarray, geometry: ImageGeometry, centre_ras: Sequence[float], field_mm: float,
                pixels: int = SLICE_PX) -> np.ndarray:
    """``pixels`` × ``pixels`` float32 values of the axial plane through ``centre_ras`` (trilinear), a
    square ``field_mm`` wide centred there: columns towards the patient's left, rows towards posterior."""
    from scipy.ndimage import map_coordinates

    step = field_mm / pixels
    offsets = (np.arange(pixels) + 0.5) * step - field_mm / 2
    r, a = np.meshgrid(centre_ras[0] - offsets, centre_ras[1] - offsets)  # (rows, columns)
    ras = np.column_stack([r.ravel(), a.ravel(), np.full(r.size, float(centre_ras[2]))])
    ijk = geometry.world_to_ijk(ras)
    values = map_coordinates(volume_kji, ijk[:, ::-1].T, output=np.float32, order=1, mode="constant", cval=AIR_HU)
    return values.reshape(pixels, pixels)


def _pixel_of(value: float, centre: float, field_mm: float, pixels: int) -> float:
    """Column (from R) or row (from A) of a coordinate: both run against the RAS axis."""
    return (centre - value + field_mm / 2) / (field_mm / pixels) - 0.5


def _draw_box(rgb: np.ndarray, top: float, bottom: float, left: float, right: float, colour, width: int = 2) -> None:
    rows, columns = rgb.shape[:2]
    r0, r1 = int(np.clip(np.floor(top), 0, rows - 1)), int(np.clip(np.ceil(bottom), 0, rows - 1))
    c0, c1 = int(np.clip(np.floor(left), 0, columns - 1)), int(np.clip(np.ceil(right), 0, columns - 1))
    rgb[r0:r0 + width, c0:c1 + 1] = colour
    rgb[max(r1 - width + 1, 0):r1 + 1, c0:c1 + 1] = colour
    rgb[r0:r1 + 1, c0:c0 + width] = colour
    rgb[r0:r1 + 1, max(c1 - width + 1, 0):c1 + 1] = colour


def finding_picture(volume_kji: np.ndarray, geometry: ImageGeometry, finding: Finding,
                    window_hu: tuple[float, float] = BONE_WINDOW_HU) -> np.ndarray:
    """RGB uint8: a header (finding, class and its probability; bone; slice position and box size)
    over the axial slice through the finding's centre with its box; R/L/A/P at the edges."""
    low, high = (np.asarray(corner, dtype=float) for corner in finding.box_ras_mm)
    centre = (low + high) / 2
    field = float(np.clip(CONTEXT * max(high[0] - low[0], high[1] - low[1]), *FIELD_MM))
    values = axial_slice(volume_kji, geometry, centre, field)
    grey = np.clip((values - window_hu[0]) / (window_hu[1] - window_hu[0]), 0, 1) * 255
    picture = np.full((HEADER_PX + SLICE_PX, SLICE_PX, 3), 30, np.uint8)
    image = picture[HEADER_PX:]
    image[:] = grey.astype(np.uint8)[..., None]
    _draw_box(image, _pixel_of(high[1], centre[1], field, SLICE_PX), _pixel_of(low[1], centre[1], field, SLICE_PX),
              _pixel_of(high[0], centre[0], field, SLICE_PX), _pixel_of(low[0], centre[0], field, SLICE_PX),
              class_colour(finding.cls))
    bone = BONE_BY_KEY.get(finding.bone)
    size = high - low
    lines = (f"FRACTURE {finding.id}  {finding.cls} {finding.class_probabilities.get(finding.cls, 0.0):.2f}",
             bone.title if bone else finding.bone.replace("_", " "),
             f"S {centre[2]:.1f} MM  BOX {size[0]:.0f}X{size[1]:.0f}X{size[2]:.0f} MM")
    for index, line in enumerate(lines):
        stamp_text(picture, line, (6 + index * LINE_PX, 6), TEXT_PX, 255 if index < 2 else 200)
    middle = SLICE_PX // 2 - 7
    for letter, (row, column) in {"R": (middle, 4), "L": (middle, SLICE_PX - 14), "A": (4, SLICE_PX // 2 - 5),
                                  "P": (SLICE_PX - 18, SLICE_PX // 2 - 5)}.items():
        stamp_text(image, letter, (row, column), TEXT_PX, 255)
    return picture
