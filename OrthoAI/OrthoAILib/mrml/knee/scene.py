"""A knee cartilage result's nodes: the plates as a segmentation, each plate's thickness map as a
model coloured by thickness (one shared colour range, a colour legend), and the biomarker table.

Nodes are added all or nothing, placed with the input volume in the subject hierarchy; the input is
never changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import vtk
from vtk.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray

from ...geometry import ImageGeometry
from ...pipelines.knee.biomarkers import KneeBiomarkers
from ...pipelines.knee.plates import CARTILAGE_TERMINOLOGY, PLATE_COLOURS, PLATE_TITLES
from ..app import current_scene
from ..colours import scale_colour_id
from ..hierarchy import place_with_input
from ..scene_edit import SceneTransaction
from ..segmentations import SegmentSpec, segmentation_from_labelmap
from ..tables import table_from_records

THICKNESS_ARRAY = "Thickness (mm)"
THICKNESS_RANGE_MM = (0.0, 4.0)  # one colour scale for every plate and case, so maps compare by eye


@dataclass
class KneeNodes:
    segmentation: object = None
    models: dict = field(default_factory=dict)  # plate -> model node
    table: object = None


def plate_segments(plates) -> list[SegmentSpec]:
    """Segments for plates given as (name, label value) pairs."""
    return [SegmentSpec(value, PLATE_TITLES.get(name, name), PLATE_COLOURS.get(name, (0.8, 0.8, 0.8)),
                        CARTILAGE_TERMINOLOGY) for name, value in plates]


def thickness_polydata(vertices: np.ndarray, faces: np.ndarray, thickness: np.ndarray) -> vtk.vtkPolyData:
    points = vtk.vtkPoints()
    points.SetData(numpy_to_vtk(np.ascontiguousarray(vertices, dtype=np.float64), deep=True))
    polygons = vtk.vtkCellArray()
    polygons.SetData(numpy_to_vtkIdTypeArray(np.arange(0, 3 * len(faces) + 1, 3, dtype=np.int64), deep=True),
                     numpy_to_vtkIdTypeArray(np.ascontiguousarray(faces, dtype=np.int64).ravel(), deep=True))
    polydata = vtk.vtkPolyData()
    polydata.SetPoints(points)
    polydata.SetPolys(polygons)
    scalars = numpy_to_vtk(np.ascontiguousarray(thickness, dtype=np.float32), deep=True)
    scalars.SetName(THICKNESS_ARRAY)
    polydata.GetPointData().AddArray(scalars)
    polydata.GetPointData().SetActiveScalars(THICKNESS_ARRAY)
    return polydata


def _thickness_model(scene, name: str, surface):
    model = scene.AddNewNodeByClass("vtkMRMLModelNode", name)
    model.SetAndObservePolyData(thickness_polydata(surface.vertices, surface.faces, surface.thickness))
    model.CreateDefaultDisplayNodes()
    display = model.GetDisplayNode()
    display.SetActiveScalarName(THICKNESS_ARRAY)
    colours = scale_colour_id(scene)
    if colours is not None:
        display.SetAndObserveColorNodeID(colours)
    display.SetScalarRangeFlag(display.UseManualScalarRange)
    display.SetScalarRange(*THICKNESS_RANGE_MM)
    display.SetScalarVisibility(True)
    return model


def add_knee_results(name: str, geometry: ImageGeometry, biomarkers: KneeBiomarkers,
                     labelmap: Optional[np.ndarray] = None, plates=None, input_node=None, scene=None,
                     table_rows: Optional[list] = None) -> KneeNodes:
    """Segmentation (when a labelmap is given: ``plates`` are its (name, value) pairs), thickness models
    and the biomarker table, under ``input_node``'s study."""
    scene = current_scene(scene)
    nodes = KneeNodes()
    with SceneTransaction(scene):
        if labelmap is not None:
            nodes.segmentation = segmentation_from_labelmap(labelmap.astype(np.int32), geometry, plate_segments(plates),
                                                            f"{name} cartilage", scene, reference_volume=input_node)
        for plate, surface in biomarkers.maps.items():
            if len(surface.vertices):
                nodes.models[plate] = _thickness_model(scene, f"{name} {PLATE_TITLES.get(plate, plate)} thickness", surface)
        nodes.table = table_from_records(table_rows if table_rows is not None else biomarkers.csv_rows(),
                                         f"{name} cartilage biomarkers", scene)
        if nodes.models:
            legend = scene.AddNewNodeByClass("vtkMRMLColorLegendDisplayNode", f"{name} thickness legend")
            legend.SetTitleText(THICKNESS_ARRAY)
            first = next(iter(nodes.models.values()))
            first.AddAndObserveDisplayNodeID(legend.GetID())
            legend.SetAndObservePrimaryDisplayNode(first.GetDisplayNode())
        if input_node is not None:
            for node in [nodes.segmentation, nodes.table, *nodes.models.values()]:
                if node is not None:
                    place_with_input(node, input_node)
    return nodes
