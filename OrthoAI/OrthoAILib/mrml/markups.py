"""Fiducial, line and ROI markups from positions (RAS mm), and back."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np
import slicer
import vtk

from ..errors import InputError
from .app import current_scene, module_logic
from .scene_edit import SceneTransaction


def _vector(position: Sequence[float]) -> vtk.vtkVector3d:
    x, y, z = (float(v) for v in position)
    return vtk.vtkVector3d(x, y, z)


def fiducials_from_points(points: Mapping[str, Sequence[float]], name: str, scene=None, node=None):
    """A fiducial node (new, or ``node`` emptied) with one labelled control point per entry."""
    scene = current_scene(scene)
    with SceneTransaction(scene):
        if node is None:
            node = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", name)
            node.CreateDefaultDisplayNodes()
        with slicer.util.NodeModify(node):
            node.RemoveAllControlPoints()
            for label, position in points.items():
                node.AddControlPoint(_vector(position), label)
    return node


def unplaced_fiducials(labels: Sequence[str], name: str, scene=None):
    """A fiducial node whose labelled points are not placed yet: clicking in a view
    places them one after the other, in this order."""
    scene = current_scene(scene)
    with SceneTransaction(scene):
        node = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", name)
        node.CreateDefaultDisplayNodes()
        with slicer.util.NodeModify(node):
            for index, label in enumerate(labels):
                node.AddControlPoint(vtk.vtkVector3d(0, 0, 0), label)
                node.UnsetNthControlPointPosition(index)
    return node


def points_from_fiducials(node) -> dict[str, np.ndarray]:
    """World (RAS) positions of the placed control points, by label."""
    points: dict[str, np.ndarray] = {}
    position = [0.0, 0.0, 0.0]
    for index in range(node.GetNumberOfControlPoints()):
        if node.GetNthControlPointPositionStatus(index) != node.PositionDefined:
            continue
        label = node.GetNthControlPointLabel(index)
        if label in points:
            raise InputError(f"Markups '{node.GetName()}': label '{label}' is used by more than one point; rename or delete one.")
        node.GetNthControlPointPositionWorld(index, position)
        points[label] = np.array(position, dtype=float)
    return points


def line_between(start: Sequence[float], end: Sequence[float], name: str, scene=None, node=None):
    """A line markup from ``start`` to ``end`` (new, or ``node`` moved there)."""
    scene = current_scene(scene)
    with SceneTransaction(scene):
        if node is None:
            node = scene.AddNewNodeByClass("vtkMRMLMarkupsLineNode", name)
            node.CreateDefaultDisplayNodes()
        with slicer.util.NodeModify(node):
            if node.GetNumberOfControlPoints() != 2:
                node.RemoveAllControlPoints()
                node.AddControlPoint(_vector(start))
                node.AddControlPoint(_vector(end))
            else:
                node.SetNthControlPointPositionWorld(0, *map(float, start))
                node.SetNthControlPointPositionWorld(1, *map(float, end))
    return node


def roi_from_box(center: Sequence[float], size: Sequence[float], name: str, scene=None,
                 axes: Optional[np.ndarray] = None):
    """A box ROI markup: centre and size in mm, axes as columns of a 3×3 RAS rotation (default: aligned)."""
    if any(float(s) <= 0 for s in size):
        raise InputError(f"ROI '{name}' needs a positive size in every direction, got {list(size)}.")
    scene = current_scene(scene)
    with SceneTransaction(scene):
        node = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", name)
        node.CreateDefaultDisplayNodes()
        if axes is not None:
            matrix = vtk.vtkMatrix4x4()
            for row in range(3):
                for column in range(3):
                    matrix.SetElement(row, column, float(axes[row][column]))
            node.SetAndObserveObjectToNodeMatrix(matrix)
        node.SetCenterWorld(*map(float, center))
        node.SetSize(*map(float, size))
    return node


def save_markups(node, path: str | Path, coordinate_system: str = "LPS") -> Path:
    """Write ``node`` with Slicer's own JSON storage node (``.mrk.json``)."""
    path = Path(path)
    storage = node.GetScene().AddNewNodeByClass("vtkMRMLMarkupsJsonStorageNode")
    try:
        storage.SetCoordinateSystem(slicer.vtkMRMLStorageNode.GetCoordinateSystemTypeFromString(coordinate_system))
        storage.SetFileName(str(path))
        if not storage.WriteData(node):
            raise InputError(f"Could not write markups to {path}.")
    finally:
        node.GetScene().RemoveNode(storage)
    return path


def load_markups(path: str | Path):
    """Read a markups file into the application's scene with Slicer's markups logic; returns the new node."""
    node_id = module_logic("Markups").LoadMarkups(str(path), Path(path).name.split(".")[0])
    node = current_scene().GetNodeByID(node_id) if node_id else None
    if node is None:
        raise InputError(f"Could not read markups from {path}; is it a Slicer markups file?")
    return node
