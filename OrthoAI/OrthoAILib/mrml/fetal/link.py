"""The head ellipse as an editable closed curve, and measures that follow it.

The curve's control points lie on the ellipse, placed through the still's IJK→RAS, so the
curve is drawn on the image. When the user drags a point, :class:`FetalMeasurementLink` fits an
ellipse to the points in the still's pixels (``ellipse_from_curve``) and refills the measure
table with the core's ``measure_ellipse``: the same biometry and growth assessment the pipeline
gives. What that needs (pixel size, gestational age, the classifier's class, the model's ellipse)
is stored on the curve (attribute ``OrthoAI.FetalHead``), so a saved and reopened scene can be
followed again and reset to the model's ellipse.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import slicer
import vtk

from ...errors import InputError
from ...pipelines.fetal.ellipse import Ellipse, fit_ellipse
from ...pipelines.fetal.pipeline import Measures, measure_ellipse
from ..app import current_scene
from ..volumes import geometry_of
from .measures_table import update_measures_table

CURVE_POINTS = 24
CURVE_COLOR = (1.0, 0.85, 0.2)
FETAL_ATTRIBUTE = "OrthoAI.FetalHead"
_OBSERVED_EVENTS = (
    slicer.vtkMRMLMarkupsNode.PointModifiedEvent,
    slicer.vtkMRMLMarkupsNode.PointAddedEvent,
    slicer.vtkMRMLMarkupsNode.PointRemovedEvent,
    slicer.vtkMRMLMarkupsNode.PointPositionDefinedEvent,
    slicer.vtkMRMLMarkupsNode.PointPositionUndefinedEvent,
)
SAME_ELLIPSE_PX = 1e-3  # an ellipse refitted to the model's own points is the model's


@dataclass(frozen=True)
class HeadContext:
    """What the measures of any ellipse on this still need, beside the ellipse itself."""

    pixel_size_xy: Optional[tuple[float, float]]
    ga_weeks: Optional[float]
    shape_class: Optional[str]
    class_probability: Optional[float]
    model_ellipse: Ellipse

    def to_json(self) -> str:
        return json.dumps({"pixel_size_mm": list(self.pixel_size_xy) if self.pixel_size_xy else None,
                           "ga_weeks": self.ga_weeks, "class": self.shape_class,
                           "class_probability": self.class_probability, "model_ellipse": self.model_ellipse.to_json()})

    @classmethod
    def from_json(cls, text: str) -> "HeadContext":
        data = json.loads(text)
        size = data.get("pixel_size_mm")
        return cls(tuple(map(float, size)) if size else None, data.get("ga_weeks"), data.get("class"),
                   data.get("class_probability"), Ellipse.from_json(data["model_ellipse"]))

    @classmethod
    def of_curve(cls, curve_node) -> "HeadContext":
        text = curve_node.GetAttribute(FETAL_ATTRIBUTE)
        if not text:
            raise InputError(f"'{curve_node.GetName()}' is not a fetal head ellipse made by the analysis "
                             "(it carries no pixel size or model ellipse); run the analysis on the still.")
        return cls.from_json(text)


def _world_points(ellipse: Ellipse, volume_node, count: int) -> np.ndarray:
    outline = ellipse.outline(count)  # (x, y) = (column, row) = (I, J)
    ijk = np.column_stack([outline, np.zeros(len(outline))])
    return geometry_of(volume_node).ijk_to_world(ijk)


def curve_from_ellipse(ellipse: Ellipse, volume_node, name: str, scene=None, node=None, count: int = CURVE_POINTS):
    """A closed curve (new, or ``node`` reset) with ``count`` control points on ``ellipse`` (still pixels)."""
    scene = current_scene(scene)
    if node is None:
        node = scene.AddNewNodeByClass("vtkMRMLMarkupsClosedCurveNode", name)
        node.CreateDefaultDisplayNodes()
        display = node.GetDisplayNode()
        display.SetSelectedColor(*CURVE_COLOR)
        display.SetColor(*CURVE_COLOR)
        display.SetPointLabelsVisibility(False)
        display.SetPropertiesLabelVisibility(False)
    with slicer.util.NodeModify(node):
        node.RemoveAllControlPoints()
        for x, y, z in _world_points(ellipse, volume_node, count):
            node.AddControlPointWorld(vtk.vtkVector3d(float(x), float(y), float(z)))
    return node


def ellipse_from_curve(curve_node, volume_node) -> Ellipse:
    """The ellipse through the curve's placed control points, in the still's pixels (x = column, y = row)."""
    world = []
    position = [0.0, 0.0, 0.0]
    for index in range(curve_node.GetNumberOfControlPoints()):
        if curve_node.GetNthControlPointPositionStatus(index) == curve_node.PositionDefined:
            curve_node.GetNthControlPointPositionWorld(index, position)
            world.append(list(position))
    if len(world) < 6:
        raise InputError(f"'{curve_node.GetName()}' has {len(world)} placed points; an ellipse needs at least 6 on "
                         "the skull's outline. Add points or reset the ellipse to the model's.")
    ijk = geometry_of(volume_node).world_to_ijk(np.array(world))
    ellipse = fit_ellipse(ijk[:, :2])
    if ellipse is None:
        raise InputError(f"The points of '{curve_node.GetName()}' do not outline an ellipse; move them onto the "
                         "skull's outline or reset the ellipse to the model's.")
    return ellipse


def same_ellipse(first: Ellipse, second: Ellipse, tolerance_px: float = SAME_ELLIPSE_PX) -> bool:
    angle = abs((first.angle_deg - second.angle_deg + 90.0) % 180.0 - 90.0)
    round_enough = abs(first.semi_axes_px[0] - first.semi_axes_px[1]) < tolerance_px
    return (np.allclose(first.center_px, second.center_px, atol=tolerance_px)
            and np.allclose(first.semi_axes_px, second.semi_axes_px, atol=tolerance_px)
            and (round_enough or math.radians(angle) * first.semi_axes_px[0] < tolerance_px))


class FetalMeasurementLink:
    """Keeps a measure table in step with a head-ellipse curve; the curve changes only on ``reset``."""

    def __init__(self, curve_node, volume_node, table_node, *, context: Optional[HeadContext] = None,
                 initial_measures: Optional[Measures] = None,
                 on_update: Optional[Callable[["FetalMeasurementLink"], None]] = None) -> None:
        self.curve_node, self.volume_node, self.table_node = curve_node, volume_node, table_node
        self.context = context or HeadContext.of_curve(curve_node)
        self.on_update = on_update
        self.measures: Optional[Measures] = None
        self.edited = False
        self.status = ""
        self._tags = [curve_node.AddObserver(event, self._on_curve_event) for event in _OBSERVED_EVENTS]
        try:
            self.update(initial_measures)
        except Exception:
            self.detach()
            raise

    def _on_curve_event(self, caller, event) -> None:
        self.update()

    def detach(self) -> None:
        """Stop following the curve (the table keeps its last values)."""
        for tag in self._tags:
            self.curve_node.RemoveObserver(tag)
        self._tags = []

    def update(self, measures: Optional[Measures] = None) -> Optional[Measures]:
        """Measures of the curve's ellipse; ``measures``: the pipeline's own for the model's ellipse."""
        c = self.context
        try:
            ellipse = measures.ellipse if measures is not None else ellipse_from_curve(self.curve_node, self.volume_node)
        except InputError as error:
            self.measures, self.edited = None, True
            self.status = update_measures_table(self.table_node, None, status="not_measured", message=str(error))
        else:
            self.edited = not same_ellipse(ellipse, c.model_ellipse)
            self.measures = measures if measures is not None else measure_ellipse(ellipse, c.pixel_size_xy, c.ga_weeks)
            self.status = update_measures_table(self.table_node, self.measures, shape_class=c.shape_class,
                                                class_probability=c.class_probability, ga_weeks=c.ga_weeks,
                                                edited=self.edited)
        if self.on_update is not None:
            self.on_update(self)
        return self.measures

    def reset(self) -> None:
        """Put the curve back on the model's ellipse (the measures follow through the observer)."""
        curve_from_ellipse(self.context.model_ellipse, self.volume_node, self.curve_node.GetName(),
                           self.curve_node.GetScene(), node=self.curve_node)
