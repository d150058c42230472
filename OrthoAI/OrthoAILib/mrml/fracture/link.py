"""Fracture findings that follow the user's edits: one box (ROI) per finding, one table row per box.

:class:`FindingsLink` observes the ROI nodes. Moving or resizing a box updates the finding (centre,
size, box) and its row; removing a ROI node from the scene removes the finding and its row;
``set_class`` gives a finding another class (its ROI is renamed and recoloured, the probability column
shows that class's probability). ``current_result()`` and ``document()`` are the findings as they are
now, so a report exported after editing says what the user sees. The link changes no node but the
table and, on ``set_class``, the ROI it reclassifies.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Callable, Optional

import numpy as np
import slicer
import vtk

from ...errors import InputError
from ...pipelines.fracture.bones import BONE_BY_KEY
from ...pipelines.fracture.classes import CLASSES
from ...pipelines.fracture.pictures import class_colour
from ...pipelines.fracture.pipeline import Finding, FractureResult
from ..app import current_scene
from ..tables import table_from_records

FINDING_ATTRIBUTE = "OrthoAI.FractureFinding"  # the finding as JSON on its ROI (self-describing scenes)
TABLE_COLUMNS = ("ID", "Bone", "Class", "Probability", "Score", "R (mm)", "A (mm)", "S (mm)", "Size x (mm)",
                 "Size y (mm)", "Size z (mm)", "Touches")
SAME_MM = 1e-3  # a box that moved less than this did not move (names and attributes modify the node too)
_ROI_EVENTS = (vtk.vtkCommand.ModifiedEvent, slicer.vtkMRMLMarkupsNode.PointModifiedEvent,
               slicer.vtkMRMLTransformableNode.TransformModifiedEvent)


def bone_title(key: str) -> str:
    bone = BONE_BY_KEY.get(key)
    return bone.title if bone else key


def table_rows(findings) -> list[dict]:
    rows = []
    for f in sorted(findings, key=lambda f: f.id):
        (r, a, s), (x, y, z) = f.center_ras_mm, f.size_mm
        rows.append({"ID": f.id, "Bone": bone_title(f.bone), "Class": f.cls,
                     "Probability": round(float(f.class_probabilities.get(f.cls, 0.0)), 3), "Score": round(f.score, 3),
                     "R (mm)": round(r, 1), "A (mm)": round(a, 1), "S (mm)": round(s, 1), "Size x (mm)": round(x, 1),
                     "Size y (mm)": round(y, 1), "Size z (mm)": round(z, 1),
                     "Touches": ", ".join(bone_title(key) for key in f.touches)})
    return rows


def style_roi(roi, finding: Finding) -> None:
    """Name (the finding's title), colour of its class, and the finding kept on the node."""
    roi.SetName(finding.title)
    roi.SetAttribute(FINDING_ATTRIBUTE, json.dumps(finding.to_json()))
    display = roi.GetDisplayNode()
    if display is not None:
        colour = [c / 255 for c in class_colour(finding.cls)]
        display.SetColor(*colour)
        display.SetSelectedColor(*colour)


def roi_box(roi) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(centre, size, low, high)`` of a ROI in RAS mm: its own centre and side lengths, and the
    axis-aligned RAS box around it (the same box while it is not rotated)."""
    centre, size, bounds = [0.0] * 3, [0.0] * 3, [0.0] * 6
    roi.GetCenterWorld(centre)
    roi.GetSizeWorld(size)
    roi.GetRASBounds(bounds)
    return np.array(centre), np.array(size), np.array(bounds[0::2]), np.array(bounds[1::2])


def jump_slices_to(position_ras, scene=None) -> None:
    """Centre every slice view on ``position_ras`` (Slicer's own "jump slices", without the application)."""
    r, a, s = (float(v) for v in position_ras)
    slicer.vtkMRMLSliceNode.JumpAllSlices(current_scene(scene), r, a, s, slicer.vtkMRMLSliceNode.CenteredJumpSlice)


class FindingsLink:
    """Keeps the findings, their table and their JSON document in step with the finding ROIs."""

    def __init__(self, result: FractureResult, rois: dict, table_node, name: str, scene=None,
                 on_update: Optional[Callable[["FindingsLink"], None]] = None) -> None:
        self.scene = current_scene(scene)
        self.result = result
        self.name = name
        self.findings = {f.id: f for f in result.findings if f.id in rois}
        self.rois = dict(rois)
        self.table_node = table_node
        self.on_update = on_update
        self.moved: set[int] = set()
        self.reclassified: set[int] = set()
        self.deleted: set[int] = set()
        self._tags: dict[int, list] = {}
        self._scene_tag = None
        try:
            for finding_id, roi in self.rois.items():
                self._tags[finding_id] = [roi.AddObserver(event, lambda caller, event, i=finding_id: self._on_roi(i))
                                          for event in _ROI_EVENTS]
            self._scene_tag = self.scene.AddObserver(self.scene.NodeRemovedEvent, self._on_node_removed)
            self.refresh_table()
        except Exception:
            self.detach()
            raise

    # -- observers --------------------------------------------------------------
    def _on_roi(self, finding_id: int) -> None:
        finding = self.findings.get(finding_id)
        if finding is None:
            return
        centre, size, low, high = roi_box(self.rois[finding_id])
        if np.allclose(centre, finding.center_ras_mm, atol=SAME_MM) and np.allclose(size, finding.size_mm, atol=SAME_MM) \
                and np.allclose(np.concatenate([low, high]), np.concatenate(finding.box_ras_mm), atol=SAME_MM):
            return  # renamed, or an attribute changed
        self.findings[finding_id] = replace(finding, center_ras_mm=tuple(float(v) for v in centre),
                                            size_mm=tuple(float(v) for v in size),
                                            box_ras_mm=(tuple(float(v) for v in low), tuple(float(v) for v in high)))
        self.moved.add(finding_id)
        self._changed()

    def _on_node_removed(self, caller, event, node) -> None:
        if self.table_node is not None and node.GetID() == self.table_node.GetID():
            self.table_node = None  # the findings and their document stay
            return
        finding_id = next((i for i, roi in self.rois.items() if roi.GetID() == node.GetID()), None)
        if finding_id is None:
            return
        self._forget(finding_id)
        self.deleted.add(finding_id)
        if not self.scene.IsClosing():
            self._changed()

    _on_node_removed.CallDataType = vtk.VTK_OBJECT

    def _forget(self, finding_id: int) -> None:
        roi = self.rois.pop(finding_id)
        for tag in self._tags.pop(finding_id, []):
            roi.RemoveObserver(tag)
        self.findings.pop(finding_id, None)

    def _changed(self) -> None:
        self.refresh_table()
        if self.on_update is not None:
            self.on_update(self)

    def detach(self) -> None:
        """Stop following the ROIs (the table keeps its last rows)."""
        for finding_id, tags in self._tags.items():
            for tag in tags:
                self.rois[finding_id].RemoveObserver(tag)
        self._tags = {}
        if self._scene_tag is not None:
            self.scene.RemoveObserver(self._scene_tag)
            self._scene_tag = None

    # -- edits ------------------------------------------------------------------
    def _finding(self, finding_id: int) -> Finding:
        try:
            return self.findings[int(finding_id)]
        except (KeyError, TypeError, ValueError):
            raise InputError(f"There is no finding {finding_id} (findings: {sorted(self.findings) or 'none'}).") from None

    def set_class(self, finding_id: int, cls: str) -> Finding:
        """Give a finding another class; its ROI is renamed, its row shows that class's probability."""
        if cls not in CLASSES:
            raise InputError(f"'{cls}' is not a fracture class; choose one of {', '.join(CLASSES)}.")
        finding = replace(self._finding(finding_id), cls=cls)
        self.findings[finding.id] = finding
        self.reclassified.add(finding.id)
        style_roi(self.rois[finding.id], finding)
        self._changed()
        return finding

    def remove_finding(self, finding_id: int) -> None:
        """Delete a finding: its ROI leaves the scene, its row the table."""
        self.scene.RemoveNode(self.rois[self._finding(finding_id).id])

    def centre_views_on(self, finding_id: int) -> None:
        """Centre the slice views on a finding's box."""
        centre, _, _, _ = roi_box(self.rois[self._finding(finding_id).id])
        jump_slices_to(centre, self.scene)

    def refresh_table(self) -> None:
        if self.table_node is not None and self.scene.IsNodePresent(self.table_node):
            table_from_records(table_rows(self.findings.values()), "", self.scene, self.table_node, TABLE_COLUMNS)

    # -- what the findings are now ----------------------------------------------
    def edits(self) -> dict:
        kept = set(self.findings)
        return {"moved_or_resized": sorted(self.moved & kept), "reclassified": sorted(self.reclassified & kept),
                "deleted": sorted(self.deleted)}

    def current_result(self) -> FractureResult:
        """The pipeline's result with the findings as they are now (its message says what was edited)."""
        findings = tuple(self.findings[i] for i in sorted(self.findings))
        edits = {name.replace("_", " "): len(ids) for name, ids in self.edits().items() if ids}
        if not edits:
            return replace(self.result, findings=findings)
        message = f"{len(findings)} finding(s) after review (" + ", ".join(f"{n} {name}" for name, n in edits.items()) + \
                  f"); detected: {self.result.message}"
        return replace(self.result, findings=findings, message=message)

    def document(self) -> dict:
        """The findings as ``fractures.json`` holds them, as edited, and which edits were made."""
        return {"input": self.name, **self.current_result().to_json(), "user_edits": self.edits()}
