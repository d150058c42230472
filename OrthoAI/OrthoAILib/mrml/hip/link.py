"""Live hip measures: lines and a table that follow the landmarks as they move.

:class:`HipMeasurementLink` observes a fiducial node holding the nine named
landmarks. Whenever a point is placed, moved, added or removed, it recomputes
the measures (core: ``OrthoAILib.pipelines.hip``), moves the four overlay lines and
refills the measure table. While the set is incomplete or degenerate the
table says what is missing instead of stale numbers. The landmarks node itself
is never modified.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

import slicer

from ...errors import InputError
from ...pipelines.hip.landmarks import HIP_LINES, MIDLINE_NAME
from ...pipelines.hip.measures import MEASURE_SPECS, HipMeasures, compute_hip_measures, midline_segment
from ..app import current_scene
from ..hierarchy import place_with_input
from ..markups import line_between, points_from_fiducials
from ..tables import table_from_records
from ..volumes import plane_normal_of

_OBSERVED_EVENTS = (
    slicer.vtkMRMLMarkupsNode.PointModifiedEvent,
    slicer.vtkMRMLMarkupsNode.PointAddedEvent,
    slicer.vtkMRMLMarkupsNode.PointRemovedEvent,
    slicer.vtkMRMLMarkupsNode.PointPositionDefinedEvent,
    slicer.vtkMRMLMarkupsNode.PointPositionUndefinedEvent,  # a label edit fires PointModifiedEvent too
)
LINE_COLOR = (1.0, 0.85, 0.2)
# True mm per scene unit of a landmark set whose film is shown with a nominal spacing (see hip_scene).
MM_PER_UNIT_ATTRIBUTE = "OrthoAI.MmPerUnit"
TABLE_COLUMNS = ("Measure", "Key", "Value", "Unit", "Normal range", "Flag")


def incomplete_rows(message: str) -> list[dict]:
    return [{"Measure": spec.label, "Key": spec.key, "Value": None, "Unit": spec.unit,
             "Normal range": spec.normal_range_text, "Flag": "incomplete"} for spec in MEASURE_SPECS] + [
        {"Measure": "Status", "Key": "status", "Value": None, "Unit": "", "Normal range": "", "Flag": message}]


class HipMeasurementLink:
    """Keeps overlay lines and a measure table in step with a landmarks node."""

    def __init__(self, landmarks_node, *, table_node=None, volume_node=None,
                 cup_diameter_mm: Optional[float] = None, scene=None, mm_per_unit: Optional[float] = None,
                 on_update: Optional[Callable[["HipMeasurementLink"], None]] = None,
                 initial_measures: Optional[HipMeasures] = None) -> None:
        self.scene = current_scene(scene)
        self.landmarks_node = landmarks_node
        self.volume_node = volume_node
        self.cup_diameter_mm = cup_diameter_mm
        if mm_per_unit is None:  # as stored on the landmarks by detection, else 1 (points in mm)
            mm_per_unit = float(landmarks_node.GetAttribute(MM_PER_UNIT_ATTRIBUTE) or 1.0)
        self.mm_per_unit = mm_per_unit
        self.on_update = on_update
        base = landmarks_node.GetName()
        self.table_node = table_node or self.scene.AddNewNodeByClass("vtkMRMLTableNode", f"{base} measures")
        if table_node is None and volume_node is not None:
            place_with_input(self.table_node, volume_node)  # results live under the film's study
        self.line_nodes: dict[str, object] = {}
        self.measures: Optional[HipMeasures] = None
        self.status = ""
        self.last_update_seconds = 0.0
        self._observer_tags = [landmarks_node.AddObserver(event, self._on_landmarks_event) for event in _OBSERVED_EVENTS]
        try:
            self.update(initial_measures)
        except Exception:
            self.detach()
            raise

    # -- observer ---------------------------------------------------------
    def _on_landmarks_event(self, caller, event) -> None:
        self.update()  # a moved point: computed afresh

    def detach(self) -> None:
        """Stop following the landmarks (lines and table stay in the scene)."""
        for tag in self._observer_tags:
            self.landmarks_node.RemoveObserver(tag)
        self._observer_tags = []

    def set_cup_diameter(self, cup_diameter_mm: Optional[float]) -> None:
        self.cup_diameter_mm = cup_diameter_mm if cup_diameter_mm else None
        self.update()

    # -- recompute ----------------------------------------------------------
    def update(self, measures: Optional[HipMeasures] = None) -> Optional[HipMeasures]:
        """Recompute from the landmarks; ``measures``: the pipeline's own for these very points
        (right after detection), shown as they are instead of being computed again."""
        started = time.perf_counter()
        normal = plane_normal_of(self.volume_node) if self.volume_node is not None else None
        try:
            points = points_from_fiducials(self.landmarks_node)
        except InputError as error:
            points, failure = {}, str(error)
        else:
            failure = ""
        self._update_lines(points, normal)
        if not failure and measures is not None:
            self.measures = measures
        elif not failure:
            try:
                self.measures = compute_hip_measures(points, self.cup_diameter_mm, normal, self.mm_per_unit)
            except InputError as error:
                failure = str(error)
        if failure:
            self.measures = None
            self.status = failure
            table_from_records(incomplete_rows(failure), "", self.scene, self.table_node, TABLE_COLUMNS)
        else:
            self.status = " ".join(self.measures.warnings) or (
                "Lengths calibrated to the cup diameter." if self.measures.calibrated else
                "Lengths uncalibrated (radiographic magnification); give the cup diameter to calibrate.")
            table_from_records(self.measures.as_rows(), "", self.scene, self.table_node, TABLE_COLUMNS)
        self.table_node.SetAttribute("OrthoAI.Status", self.status)
        self.last_update_seconds = time.perf_counter() - started
        if self.on_update is not None:
            self.on_update(self)
        return self.measures

    def _line(self, name: str, start, end):
        full_name = f"{self.landmarks_node.GetName()} {name}"
        node = self.line_nodes.get(name)
        if node is None:  # a line left by an earlier link on these landmarks is reused, not duplicated
            node = self.scene.GetFirstNode(full_name, "vtkMRMLMarkupsLineNode")
        node = line_between(start, end, full_name, self.scene, node)
        if node not in self.line_nodes.values():
            node.SetLocked(True)  # lines follow the points; the user moves the points
            display = node.GetDisplayNode()
            display.SetSelectedColor(*LINE_COLOR)
            display.SetColor(*LINE_COLOR)
            display.SetPropertiesLabelVisibility(False)
            display.SetPointLabelsVisibility(False)
            if self.volume_node is not None:
                place_with_input(node, self.volume_node)
        self.line_nodes[name] = node
        node.SetDisplayVisibility(True)

    def _update_lines(self, points, normal) -> None:
        visible = set()
        for name, (start, end) in HIP_LINES.items():
            if start in points and end in points:
                self._line(name, points[start], points[end])
                visible.add(name)
        try:
            midline = midline_segment(points, normal)
        except InputError:
            pass
        else:
            self._line(MIDLINE_NAME, *midline)
            visible.add(MIDLINE_NAME)
        for name, node in self.line_nodes.items():
            if name not in visible:
                node.SetDisplayVisibility(False)
