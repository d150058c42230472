"""The thickness map file (legacy VTK, LPS) read by MRML's own model storage node lands where the
cartilage is in RAS, with its thickness per point: what Slicer shows when a user drags it in."""

from __future__ import annotations

import numpy as np

from OrthoAILib.geometry import ImageGeometry
from OrthoAILib.io.surface_vtk import write_polydata
from OrthoAILib.pipelines.knee.thickness import thickness_map


def test_mrml_reads_the_thickness_map_in_ras(scene, tmp_path):
    from vtk.util.numpy_support import vtk_to_numpy

    mask = np.zeros((30, 40, 40), bool)
    mask[10:14, 5:35, 5:35] = True  # a 4-slice plate
    geometry = ImageGeometry((0.5, 0.5, 0.7), (30.0, -12.0, 4.0), ((0.0, 0.0, 1.0), (-1.0, 0.0, 0.0), (0.0, -1.0, 0.0)))
    surface = thickness_map(mask, (0.7, 0.5, 0.5), geometry.ijk_to_ras)
    path = write_polydata(tmp_path / "plate.thickness.vtk", surface.vertices, surface.faces,
                          {"thickness_mm": surface.thickness})

    model = scene.AddNewNodeByClass("vtkMRMLModelNode")
    storage = scene.AddNewNodeByClass("vtkMRMLModelStorageNode")
    storage.SetFileName(str(path))
    model.SetAndObserveStorageNodeID(storage.GetID())
    assert storage.ReadData(model)
    points = vtk_to_numpy(model.GetPolyData().GetPoints().GetData())
    np.testing.assert_allclose(points, surface.vertices, atol=1e-3)
    values = vtk_to_numpy(model.GetPolyData().GetPointData().GetArray("thickness_mm"))
    np.testing.assert_allclose(values, surface.thickness, atol=1e-4, equal_nan=True)
    assert abs(np.nanmean(values) - 4 * 0.7) < 0.15
