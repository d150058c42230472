import numpy as np
import pytest
import vtk
from vtk.util.numpy_support import vtk_to_numpy

from OrthoAILib.mrml.hip.link import LINE_COLOR, HipMeasurementLink
from OrthoAILib.mrml.markups import fiducials_from_points
from OrthoAILib.errors import InputError
from OrthoAILib.mrml.render import render_slice_view, save_window_png
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


def _window(size, background):
    window = vtk.vtkRenderWindow()
    window.SetOffScreenRendering(1)
    window.SetSize(*size)
    renderer = vtk.vtkRenderer()
    renderer.SetBackground(*background)
    window.AddRenderer(renderer)
    return window


def test_a_window_is_saved_with_its_background_as_the_application_saves_a_view(slicer_app, tmp_path):
    window = _window((64, 48), (0.0, 0.5, 1.0))  # never rendered: the capture renders it, as in the application
    pixels = _read_png(save_window_png(window, tmp_path / "view.png"))[..., :3].astype(int)
    assert pixels.shape == (48, 64, 3)
    assert np.abs(pixels - [0, 128, 255]).max() <= 1  # the background too (a widget grab would miss it)
    window.Finalize()


def test_a_view_without_a_picture_or_a_folder_is_a_clear_error(slicer_app, tmp_path):
    window = _window((1, 1), (0, 0, 0))
    with pytest.raises(InputError, match="no picture"):
        save_window_png(window, tmp_path / "tiny.png")
    window.Finalize()
    window = _window((32, 32), (0, 0, 0))
    (tmp_path / "taken").write_text("a file where the folder should be")
    with pytest.raises(InputError, match="writable"):
        save_window_png(window, tmp_path / "taken" / "view.png")
    window.Finalize()
