"""Pictures of a slice view, rendered off-screen with Slicer's own view logic.

The slice logic reslices the background volume exactly as Slicer's Red view
does, and Slicer's displayable managers draw segmentations and markups on
top, so the PNG shows what a user sees in the application.
"""

from __future__ import annotations

import os
from pathlib import Path

import slicer
import vtk

from .app import HeadlessSlicer
from .views import slice_orientation_for

SLICE_DISPLAYABLE_MANAGERS = (
    "vtkMRMLSegmentationsDisplayableManager2D",
    "vtkMRMLMarkupsDisplayableManager",
    "vtkMRMLModelSliceDisplayableManager",
)


def render_slice_view(app: HeadlessSlicer, volume_node, path: str | Path, size: tuple[int, int] = (900, 700),
                      layout_name: str = "Red") -> Path:
    """Render ``volume_node`` (and whatever the scene shows over it) in its own plane to a PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    # Off-screen through EGL: no X server needed. Only here, never inside the
    # Slicer application, whose windows must stay as they are.
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

    slice_logic = slicer.vtkMRMLSliceLogic()
    slice_logic.SetMRMLApplicationLogic(app.app_logic)
    slice_logic.SetMRMLScene(app.scene)
    slice_node = app.scene.GetSingletonNode(layout_name, "vtkMRMLSliceNode")
    if slice_node is None:
        slice_node = slice_logic.AddSliceNode(layout_name)
    else:
        slice_logic.SetSliceNode(slice_node)
    slice_node.SetDimensions(width, height, 1)
    slice_node.SetOrientation(slice_orientation_for(volume_node))
    slice_logic.GetSliceCompositeNode().SetBackgroundVolumeID(volume_node.GetID())
    slice_logic.FitSliceToAll()

    window = vtk.vtkRenderWindow()
    window.SetOffScreenRendering(1)
    window.SetSize(width, height)
    window.SetNumberOfLayers(2)  # layer 0: the resliced image; layer 1: markups, segments
    image_renderer, overlay_renderer = vtk.vtkRenderer(), vtk.vtkRenderer()
    image_renderer.SetLayer(0)
    overlay_renderer.SetLayer(1)
    window.AddRenderer(image_renderer)
    window.AddRenderer(overlay_renderer)
    interactor = vtk.vtkRenderWindowInteractor()  # displayable managers need one; it never starts
    interactor.SetRenderWindow(window)

    mapper = vtk.vtkImageMapper()
    mapper.SetColorWindow(255)
    mapper.SetColorLevel(127.5)
    mapper.SetInputConnection(slice_logic.GetImageDataConnection())
    image_actor = vtk.vtkActor2D()
    image_actor.SetMapper(mapper)
    image_renderer.AddViewProp(image_actor)

    factory = slicer.vtkMRMLSliceViewDisplayableManagerFactory.GetInstance()
    factory.SetMRMLApplicationLogic(app.app_logic)
    for manager in SLICE_DISPLAYABLE_MANAGERS:
        if not factory.IsDisplayableManagerRegistered(manager):
            factory.RegisterDisplayableManager(manager)
    group = factory.InstantiateDisplayableManagers(overlay_renderer)
    try:
        group.SetMRMLDisplayableNode(slice_node)
        window.Render()
        grabber = vtk.vtkWindowToImageFilter()
        grabber.SetInput(window)
        grabber.Update()
        writer = vtk.vtkPNGWriter()
        writer.SetFileName(str(path))
        writer.SetInputConnection(grabber.GetOutputPort())
        writer.Write()
    finally:
        group.SetMRMLDisplayableNode(None)
        window.Finalize()
        slice_logic.SetMRMLScene(None)  # the slice and composite nodes stay: they are the scene's view state
    return path
