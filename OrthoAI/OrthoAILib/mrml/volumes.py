"""Volume nodes <-> numpy arrays with their geometry.

Arrays are KJI (slice, row, column), as ``slicer.util.arrayFromVolume``
returns them; a 2-D image is one slice, shape ``(1, rows, columns)``.
"""

from __future__ import annotations

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
                      node_class: str = "vtkMRMLScalarVolumeNode", node=None):
    """A new (or the given) volume node holding ``array`` (KJI, or 2-D rows×columns) with ``geometry``."""
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[np.newaxis]
    if array.ndim != 3:
        raise InputError(f"Expected a 2-D or 3-D (KJI) array, got shape {array.shape}.")
    scene = current_scene(scene)
    with SceneTransaction(scene):
        if node is None:
            node = scene.AddNewNodeByClass(node_class, name)
        node.SetIJKToRASMatrix(_ijk_to_ras_matrix(geometry))
        slicer.util.updateVolumeFromArray(node, np.ascontiguousarray(array))
        node.CreateDefaultDisplayNodes()
    return node


def plane_normal_of(volume_node) -> np.ndarray:
    """RAS direction of the volume's K axis: the normal of a single-slice image."""
    return np.asarray(geometry_of(volume_node).directions)[:, 2]


def image_from_volume(volume_node, modality: str = "") -> Image:
    """A volume node as the pipelines' ``Image`` (a copy: the node is never changed)."""
    array, geometry = array_from_volume(volume_node)
    return Image(np.array(array, dtype=np.float32), geometry, ImageOrigin(volume_node.GetName(), modality, "volume spacing"))
