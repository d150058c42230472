import numpy as np
import vtk
from vtk.util.numpy_support import vtk_to_numpy

from OrthoAILib.mrml.hip.link import LINE_COLOR, HipMeasurementLink
from OrthoAILib.mrml.markups import fiducials_from_points
from OrthoAILib.mrml.render import render_slice_view
from OrthoAILib.mrml.volumes import volume_from_array
from OrthoAILib.phantoms.pelvis_xray import make_pelvis_radiograph


def _read_png(path) -> np.ndarray:
    reader = vtk.vtkPNGReader()
    reader.SetFileName(str(path))
    reader.Update()
    image = reader.GetOutput()
    columns, rows, _ = image.GetDimensions()
    return vtk_to_numpy(image.GetPointData().GetScalars()).reshape(rows, columns, -1)


def test_slice_view_shows_the_film_and_the_overlay_lines(scene, slicer_app, tmp_path):
    radiograph = make_pelvis_radiograph(seed=2, operated="left", spacing_mm=0.5)
    volume = volume_from_array(radiograph.image, radiograph.geometry, "xray", scene)
    landmarks = fiducials_from_points(radiograph.keypoints_ras, "landmarks", scene)
    link = HipMeasurementLink(landmarks, volume_node=volume, scene=scene)
    path = render_slice_view(slicer_app, volume, tmp_path / "view.png", size=(400, 300))
    pixels = _read_png(path)[..., :3].astype(int)
    assert pixels.shape == (300, 400, 3)
    grey = pixels[(pixels[..., 0] == pixels[..., 1]) & (pixels[..., 1] == pixels[..., 2])]
    assert grey.std() > 20  # the radiograph is there, not a blank view
    line_rgb = (np.array(LINE_COLOR) * 255).astype(int)
    assert (np.abs(pixels - line_rgb).sum(axis=-1) < 60).sum() > 200  # yellow lines drawn over it
    link.detach()
