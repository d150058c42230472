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

from ..errors import InputError
from .app import HeadlessSlicer
from .views import slice_orientation_for

SLICE_DISPLAYABLE_MANAGERS = (
    "vtkMRMLSegmentationsDisplayableManager2D",
    "vtkMRMLMarkupsDisplayableManager",
    "vtkMRMLModelSliceDisplayableManager",
)


class SliceViewRenderer:
    """One off-screen slice view (slice logic, render window, displayable managers), made once per
    application and view size and reused for every picture: Slicer's markups displayable manager
    keeps about 20 MB that a freed view never gives back, so a view per picture grew a batch's
    memory by that much per film."""

    def __init__(self, app: HeadlessSlicer, size: tuple[int, int], layout_name: str) -> None:
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
        self.app, self.size, self.layout_name = app, size, layout_name
        width, height = size
        self.slice_logic = slicer.vtkMRMLSliceLogic()
        self.slice_logic.SetMRMLApplicationLogic(app.app_logic)
        self.window = vtk.vtkRenderWindow()
        self.window.SetOffScreenRendering(1)
        self.window.SetSize(width, height)
        self.window.SetMultiSamples(0)  # 8 by default: off takes a third off the software renderer's time
        self.window.SetNumberOfLayers(2)  # layer 0: the resliced image; layer 1: markups, segments
        self.image_renderer, self.overlay_renderer = vtk.vtkRenderer(), vtk.vtkRenderer()
        self.image_renderer.SetLayer(0)
        self.overlay_renderer.SetLayer(1)
        self.window.AddRenderer(self.image_renderer)
        self.window.AddRenderer(self.overlay_renderer)
        self.interactor = vtk.vtkRenderWindowInteractor()  # displayable managers need one; it never starts
        self.interactor.SetRenderWindow(self.window)
        self.mapper = vtk.vtkImageMapper()
        self.mapper.SetColorWindow(255)
        self.mapper.SetColorLevel(127.5)
        self.image_actor = vtk.vtkActor2D()
        self.image_actor.SetMapper(self.mapper)
        self.image_renderer.AddViewProp(self.image_actor)
        factory = slicer.vtkMRMLSliceViewDisplayableManagerFactory.GetInstance()
        factory.SetMRMLApplicationLogic(app.app_logic)
        for manager in SLICE_DISPLAYABLE_MANAGERS:
            if not factory.IsDisplayableManagerRegistered(manager):
                factory.RegisterDisplayableManager(manager)
        self.group = factory.InstantiateDisplayableManagers(self.overlay_renderer)
        self.attached = None  # the slice node the displayable managers draw

    def render(self, volume_node, path: Path) -> Path:
        slice_node = self._attach(self.app.scene)
        slice_node.SetDimensions(self.size[0], self.size[1], 1)
        slice_node.SetOrientation(slice_orientation_for(volume_node))
        self.slice_logic.GetSliceCompositeNode().SetBackgroundVolumeID(volume_node.GetID())
        self.slice_logic.FitSliceToAll()
        self.mapper.SetInputConnection(self.slice_logic.GetImageDataConnection())
        self.window.Render()
        return save_window_png(self.window, path, just_rendered=True)

    def _attach(self, scene):
        """The scene's slice node for this view, with the logic and the displayable managers on it.

        They stay attached between pictures (the slice node is a singleton: clearing the scene keeps
        it): detaching and attaching again made the markups manager observe the interaction node a
        second time, which VTK reported as a warning on every picture."""
        if self.slice_logic.GetMRMLScene() is not scene:
            self.slice_logic.SetMRMLScene(scene)
        slice_node = scene.GetSingletonNode(self.layout_name, "vtkMRMLSliceNode")
        if slice_node is None:
            slice_node = self.slice_logic.AddSliceNode(self.layout_name)
        elif self.slice_logic.GetSliceNode() is not slice_node:
            self.slice_logic.SetSliceNode(slice_node)
        if self.attached is not slice_node:
            self.group.SetMRMLDisplayableNode(slice_node)
            self.attached = slice_node
        return slice_node

    def close(self) -> None:
        self.group.SetMRMLDisplayableNode(None)
        self.attached = None
        self.slice_logic.SetMRMLScene(None)
        self.window.Finalize()
        self.slice_logic.SetMRMLApplicationLogic(None)


def save_window_png(window, path: str | Path, just_rendered: bool = False) -> Path:
    """What a render window shows, as a PNG: read from the window with ``vtkWindowToImageFilter``, as
    Slicer's ScreenCapture module does for a view (a Qt widget grab would miss the background).
    ``just_rendered``: an off-screen window rendered a moment ago; its back buffer is read as it is
    (by default the filter renders the whole view again)."""
    path = Path(path)
    grabber = vtk.vtkWindowToImageFilter()
    grabber.SetInput(window)
    if just_rendered:
        grabber.ShouldRerenderOff()
        grabber.ReadFrontBufferOff()
    grabber.Update()
    size = grabber.GetOutput().GetDimensions()
    if size[0] < 2 or size[1] < 2:
        raise InputError(f"Could not capture the view for {path.name}: it has no picture ({size[0]}x{size[1]} pixels).")
    writer = vtk.vtkPNGWriter()
    writer.SetCompressionLevel(1)  # a third of the default's time, for a few per cent more bytes
    writer.SetFileName(str(path))
    writer.SetInputConnection(grabber.GetOutputPort())
    writer.Write()
    if not path.is_file():
        raise InputError(f"Could not write the picture {path}; is the folder writable?")
    return path


def render_slice_view(app: HeadlessSlicer, volume_node, path: str | Path, size: tuple[int, int] = (900, 700),
                      layout_name: str = "Red") -> Path:
    """Render ``volume_node`` (and whatever the scene shows over it) in its own plane to a PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    renderer = app.views.get((tuple(size), layout_name))
    if renderer is None:
        renderer = app.views[(tuple(size), layout_name)] = SliceViewRenderer(app, tuple(size), layout_name)
    return renderer.render(volume_node, path)
