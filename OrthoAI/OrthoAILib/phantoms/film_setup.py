"""The steps every generated film shares: pose and film size, the drawn case, its development.

A film is made in three steps, each deterministic from one random stream:
:func:`draw_film_pose` (rotation, patient size, pixel spacing, shift,
collimation), :func:`place_film` (the film's pixels, with every keypoint
inside the exposed field, and its layers), drawing the anatomy into the
layers, then :func:`develop_case` (exposure and processing into a
:class:`PelvisRadiograph`). The drawn :class:`DrawnCase` is kept apart from its
development so that tests can check the anatomy under each keypoint in the
layers, before any look or noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..geometry import radiograph_geometry
from .film_looks import Collimation, date_stamp, develop, draw_collimation, stamp_marker
from .layers import FilmLayers
from .placement import fit_on_film
from .radiograph_case import HipImplant, PelvisRadiograph, draw_pose

LEAD_MARKER = 8.0  # attenuation of a lead side-marker letter: as bright as metal


@dataclass(frozen=True)
class FilmPose:
    rotation_deg: float
    size: float  # patient size factor (±20 %)
    native_spacing: float
    spacing: float
    shift_mm: tuple[float, float]
    collimation: Collimation


def draw_film_pose(rng: np.random.Generator, spacing_mm: Optional[float], max_rotation: float = 15.0) -> FilmPose:
    rotation, size = draw_pose(rng)
    native_spacing = float(rng.uniform(0.1, 0.2))
    shift = rng.uniform(-15, 15, size=2)
    return FilmPose(float(np.clip(rotation, -max_rotation, max_rotation)), size, native_spacing,
                    float(spacing_mm or native_spacing), (float(shift[0]), float(shift[1])), draw_collimation(rng))


@dataclass
class FilmSetup:
    """A film's pixels, pose and layers, before its anatomy is drawn."""
    layers: FilmLayers
    pose: FilmPose
    rows: int
    columns: int
    collimation: Collimation  # as narrowed to keep the keypoints exposed
    magnification: float

    @property
    def canvas(self):
        return self.layers.bone

    @property
    def spacing(self) -> float:
        return self.pose.spacing

    @property
    def field_mm(self) -> tuple[float, float]:
        """(rows, columns) in mm."""
        return self.rows * self.spacing, self.columns * self.spacing


def place_film(pose: FilmPose, field_mm: tuple[float, float], magnification: float, frame_centre=(0.0, 0.0),
               points=()) -> FilmSetup:
    """``field_mm``: (width, height). ``points``: frame points that must stay inside the exposed field."""
    columns, rows = int(round(field_mm[0] / pose.spacing)), int(round(field_mm[1] / pose.spacing))
    canvas, collimation = fit_on_film((rows, columns), pose.spacing, math.radians(pose.rotation_deg), pose.shift_mm,
                                      frame_centre, list(points), pose.collimation, margin_mm=12.0)
    return FilmSetup(FilmLayers(canvas, pose.spacing, magnification), pose, rows, columns, collimation, magnification)


@dataclass
class DrawnCase:
    """Everything drawn, not yet exposed."""
    setup: FilmSetup
    rng: np.random.Generator  # the film's stream, to go on with development
    texture: float
    keypoints_frame: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    operated_sides: tuple[str, ...] = ()
    implants: dict[str, HipImplant] = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    side_marker: bool = True

    @property
    def keypoints_rc(self) -> dict[str, dict[str, np.ndarray]]:
        canvas = self.setup.canvas
        return {key: {name: canvas.pixel(xy) for name, xy in points.items()} for key, points in self.keypoints_frame.items()}


def develop_case(case: DrawnCase) -> PelvisRadiograph:
    """Expose and process a drawn case into the film record."""
    setup, rng = case.setup, case.rng
    attenuation = setup.layers.attenuation(rng, case.texture)
    marker = stamp_marker(attenuation, rng, setup.spacing, setup.collimation, LEAD_MARKER) if case.side_marker else ""
    image, bit_depth, look = develop(attenuation, rng, setup.spacing, setup.pose.native_spacing, setup.collimation,
                                     (date_stamp(rng),))
    details = {"rotation_deg": setup.pose.rotation_deg, "scale": setup.pose.size, "marker": marker,
               "collimation": dict(setup.collimation.__dict__), **look, **case.details}
    geometry = radiograph_geometry((setup.rows, setup.columns), (setup.spacing, setup.spacing))
    return PelvisRadiograph(image, setup.spacing, geometry, bit_depth, setup.magnification, tuple(case.operated_sides),
                            dict(case.implants), case.keypoints_rc, setup.pose.native_spacing, details)
