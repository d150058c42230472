"""Volume nodes <-> numpy arrays with their geometry.

Arrays are KJI (slice, row, column), as ``slicer.util.arrayFromVolume``
returns them; a 2-D image is one slice, shape ``(1, rows, columns)``.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import slicer
import vtk

from ..errors import InputError
from ..geometry import ImageGeometry
from ..image import Image, ImageOrigin
from .app import current_scene
from .scene_edit import SceneTransaction


def geometry_of(volume_node) -> ImageGeometry:
    matrix = vtk.vtkMatrix4x4()
    volume_node.GetIJKToRASMatrix(matrix)
    return ImageGeometry.from_ijk_to_ras(np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)]))


def _ijk_to_ras_matrix(geometry: ImageGeometry) -> vtk.vtkMatrix4x4:
    matrix = vtk.vtkMatrix4x4()
    values = geometry.ijk_to_ras
    for row in range(4):
        for column in range(4):
            matrix.SetElement(row, column, float(values[row, column]))
    return matrix


def array_from_volume(volume_node) -> tuple[np.ndarray, ImageGeometry]:
    """A copy of the voxels (KJI) and the geometry; the node is not changed."""
    if volume_node is None or volume_node.GetImageData() is None:
        name = volume_node.GetName() if volume_node is not None else "None"
        raise InputError(f"Volume '{name}' has no image data; load an image first.")
    if volume_node.GetImageData().GetNumberOfScalarComponents() != 1:
        raise InputError(f"Volume '{volume_node.GetName()}' has several components (colour?); convert it to scalar first.")
    return np.array(slicer.util.arrayFromVolume(volume_node), copy=True), geometry_of(volume_node)


def volume_from_array(array: np.ndarray, geometry: ImageGeometry, name: str, scene=None,
                      node_class: str = "vtkMRMLScalarVolumeNode", node=None,
                      window: Optional[tuple[float, float]] = None):
    """A new (or the given) volume node holding ``array`` (KJI, or 2-D rows×columns) with ``geometry``.

    Floating-point voxels that are all whole numbers within 16 bits (a film or a CT read as floats)
    are stored as 16-bit integers, losslessly: half the memory, and half the bytes a scene bundle
    writes. A new scalar volume is shown through its 0.1-99.9th percentiles, taken from at most a
    million of its voxels (Slicer's automatic window reads them all: 0.1 s for a 12-megapixel film),
    unless ``window`` (lowest, highest value shown) is given.
    """
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[np.newaxis]
    if array.ndim != 3:
        raise InputError(f"Expected a 2-D or 3-D (KJI) array, got shape {array.shape}.")
    array = _compact(array)
    scene = current_scene(scene)
    with SceneTransaction(scene):
        if node is None:
            node = scene.AddNewNodeByClass(node_class, name)
        node.SetIJKToRASMatrix(_ijk_to_ras_matrix(geometry))
        slicer.util.updateVolumeFromArray(node, np.ascontiguousarray(array))
        if node.GetDisplayNode() is None:
            _add_display_node(node, array, scene, window)
    return node


def _compact(array: np.ndarray) -> np.ndarray:
    """``array`` as 16-bit integers when it is float32/float64 holding only whole numbers that fit."""
    if array.dtype not in (np.float32, np.float64) or array.size == 0:
        return array
    low, high = float(array.min()), float(array.max())
    for kind in (np.uint16, np.int16):
        limits = np.iinfo(kind)
        if limits.min <= low and high <= limits.max:
            compact = array.astype(kind)
            return compact if np.array_equal(compact, array) else array
    return array


def _add_display_node(node, array: np.ndarray, scene, window: Optional[tuple[float, float]] = None) -> None:
    if node.GetClassName() != "vtkMRMLScalarVolumeNode":  # labelmaps and others: Slicer's own defaults
        node.CreateDefaultDisplayNodes()
        return
    low, high = (float(v) for v in window) if window is not None else _percentile_window(array)
    display = scene.AddNewNodeByClass("vtkMRMLScalarVolumeDisplayNode")
    display.SetDefaultColorMap()
    display.AutoWindowLevelOff()
    display.SetWindowLevelMinMax(low, high if high > low else low + 1)
    node.SetAndObserveDisplayNodeID(display.GetID())


def _percentile_window(array: np.ndarray) -> tuple[float, float]:
    """The 0.1-99.9th percentiles of at most a million of the voxels."""
    axes = 2 if array.shape[0] == 1 else 3
    step = max(1, int(np.ceil((array.size / 1e6) ** (1 / axes))))
    sample = array[:, ::step, ::step] if axes == 2 else array[::step, ::step, ::step]
    finite = sample[np.isfinite(sample)] if sample.dtype.kind == "f" else sample
    return tuple(float(v) for v in np.percentile(finite, [0.1, 99.9])) if finite.size else (0.0, 1.0)


def plane_normal_of(volume_node) -> np.ndarray:
    """RAS direction of the volume's K axis: the normal of a single-slice image."""
    return np.asarray(geometry_of(volume_node).directions)[:, 2]


def image_from_volume(volume_node, modality: str = "") -> Image:
    """A volume node as the pipelines' ``Image`` (a copy: the node is never changed)."""
    array, geometry = array_from_volume(volume_node)
    return Image(np.array(array, dtype=np.float32), geometry, ImageOrigin(volume_node.GetName(), modality, "volume spacing"))
